"""Documents to the X-Ray daemon over UDP, as aws-xray-sdk's UDPEmitter sends them (the protocol
header line, then one document per datagram), with what it lacks:

- no datagram ever over the limit (documents are split or trimmed by `documents.fit`);
- the daemon's host name resolved once, in a background thread started with the emitter (at
  start-up), never inside an invocation: documents sent before the answer wait for it (a few);
- a descriptor the function closed and reused (its own TCP connection) is never written to;
- a forked child never sends: what it inherited belongs to its parent's invocation;
- every failure logged, never raised.
"""

from __future__ import annotations

import os
import socket
import threading
import weakref
from typing import Any

from lambda_tracing.documents import DOCUMENT_LIMIT, PROTOCOL_HEADER, fit, serialize
from lambda_tracing.failures import log_failure

_HEADER_BYTES = PROTOCOL_HEADER.encode("ascii")
_MAX_WAITING = 32  # datagrams kept while the daemon's host name is being resolved


def is_ip_literal(host: str) -> bool:
    """An IPv4 address needs no resolution (and no DNS, nor the idna codec)."""
    parts = host.split(".")
    return len(parts) == 4 and all(part.isdigit() and int(part) < 256 for part in parts)


class _Resolution:
    """One getaddrinfo in a daemon thread; `then` callbacks run with the result once known."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.target: tuple[str, int] | None = None
        self.error: OSError | None = None
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Any] = []
        threading.Thread(target=self._run, name="lambda-tracing-resolve", daemon=True).start()

    def _run(self) -> None:
        try:
            info = socket.getaddrinfo(self.host, self.port, socket.AF_INET, socket.SOCK_DGRAM)
            host, port = info[0][4][:2]
            self.target = (str(host), int(port))
        except OSError as error:
            self.error = error
        with self._lock:
            self.done.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)

    def then(self, callback: Any) -> None:
        with self._lock:
            if not self.done.is_set():
                self._callbacks.append(callback)
                return
        callback(self)


_resolutions: dict[tuple[str, int], _Resolution] = {}
_resolutions_lock = threading.Lock()


def _resolution(host: str, port: int) -> _Resolution:
    with _resolutions_lock:
        resolution = _resolutions.get((host, port))
        if resolution is None:
            resolution = _resolutions[(host, port)] = _Resolution(host, port)
        return resolution


class UDPEmitter:
    """`send_entity(entity)` sends `entity.to_dict()` (as `entity.to_json()` writes it, where
    it can); the interface the pytest plugin's in-memory emitter also has."""

    takes_handler_spans = True  # HandlerSpan's to_json and to_dict are all it reads

    def __init__(self, address: Any) -> None:
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._identity: tuple[int, int] | None = None
        self._target: tuple[str, int] | None = None
        self._waiting: list[bytes] | None = None  # while resolving: datagrams to send after
        self._forked = False
        forget = weakref.WeakMethod(self._forget_in_child)
        os.register_at_fork(after_in_child=lambda: (method := forget()) and method())
        self.set_daemon_address(address)

    def set_daemon_address(self, address: Any) -> None:
        from lambda_tracing.config import parse_daemon_address

        self._ip, self._port = parse_daemon_address(address)
        with self._lock:
            self._target = None
            self._waiting = None
            if is_ip_literal(self._ip):
                self._target = (self._ip, self._port)
                return
            self._waiting = []
        _resolution(self._ip, self._port).then(self._resolved)

    def _resolved(self, resolution: _Resolution) -> None:
        if (resolution.host, resolution.port) != (self._ip, self._port):
            return  # the address changed meanwhile
        if resolution.error is not None:
            log_failure(f"resolving daemon address {self._ip}", resolution.error)
        with self._lock:
            self._target = resolution.target
            waiting, self._waiting = self._waiting or [], None
            for datagram in waiting:
                self._send(datagram)

    def send_entity(self, entity: Any) -> None:
        try:
            if self._forked:
                return
            try:
                to_json = getattr(entity, "to_json", None)
                text = to_json() if to_json is not None else serialize(entity.to_dict())
            except Exception:  # noqa: BLE001 - user metadata that is not JSON: fit marks it
                text = None
            # ASCII: len = bytes
            if text is not None and len(text) <= DOCUMENT_LIMIT:
                datagrams = [_HEADER_BYTES + text.encode("ascii")]
            else:
                datagrams = [_HEADER_BYTES + part.encode("ascii") for part in fit(entity.to_dict())]
            self.send_datagrams(datagrams)
        except Exception as error:  # noqa: BLE001 - an emitter must never raise
            log_failure("sending a segment document", error)

    def send_datagrams(self, datagrams: list[bytes]) -> None:
        """Whole datagrams, framed by the caller (segment documents, or OTLP's framing): sent
        now, or kept (a few) until the daemon's host name is known."""
        if self._forked:
            return
        with self._lock:
            for datagram in datagrams:
                if self._waiting is not None:  # the host name is still being resolved
                    if len(self._waiting) < _MAX_WAITING:
                        self._waiting.append(datagram)
                else:
                    self._send(datagram)

    def _send(self, datagram: bytes) -> None:
        """Under the lock. A socket whose descriptor is no longer the one we opened (the
        function closed it, and the number may now be its own connection) is let go without
        closing it, and a new one opened."""
        if self._target is None:
            return
        try:
            if self._socket is None or not self._still_ours():
                self._open()
            assert self._socket is not None
            self._socket.send(datagram)
        except Exception as error:  # noqa: BLE001
            log_failure("sending a segment document", error)

    def _still_ours(self) -> bool:
        assert self._socket is not None
        try:
            status = os.fstat(self._socket.fileno())
        except (OSError, ValueError):
            status = None
        if status is not None and (status.st_dev, status.st_ino) == self._identity:
            return True
        self._socket.detach()  # the number is someone else's now (or nobody's): not ours to close
        self._socket = None
        return False

    def _open(self) -> None:
        opened = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            opened.setblocking(False)
            assert self._target is not None
            opened.connect(self._target)
            status = os.fstat(opened.fileno())
        except BaseException:
            opened.close()
            raise
        self._socket, self._identity = opened, (status.st_dev, status.st_ino)

    def _forget_in_child(self) -> None:
        self._forked = True
