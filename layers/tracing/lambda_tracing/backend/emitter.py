"""Documents to the X-Ray daemon over UDP, as aws-xray-sdk's UDPEmitter sends them (the protocol
header line, then one document per datagram), with what it lacks: no datagram ever over the
limit (documents are split or trimmed by `documents.fit`), the daemon's host resolved once, at
start-up rather than inside an invocation, and every failure logged, never raised.
"""

from __future__ import annotations

import socket
from typing import Any

from lambda_tracing.documents import DOCUMENT_LIMIT, PROTOCOL_HEADER, fit, serialize
from lambda_tracing.failures import log_failure

_HEADER_BYTES = PROTOCOL_HEADER.encode("ascii")


class UDPEmitter:
    """`send_entity(entity)` sends `entity.to_dict()`; the interface the pytest plugin's
    in-memory emitter also has."""

    def __init__(self, address: Any) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.setblocking(False)
        self._target: tuple[str, int] | None = None
        self._resolved = False
        self.set_daemon_address(address)

    def set_daemon_address(self, address: Any) -> None:
        from lambda_tracing.config import parse_daemon_address

        self._ip, self._port = parse_daemon_address(address)
        self._target = None
        self._resolved = False
        self._resolve()

    def _resolve(self) -> tuple[str, int] | None:
        if not self._resolved:
            self._resolved = True
            try:
                info = socket.getaddrinfo(self._ip, self._port, socket.AF_INET, socket.SOCK_DGRAM)
                host, port = info[0][4][:2]
                target = (str(host), int(port))
                self._socket.connect(target)
                self._target = target  # only once connected: send() needs the connection
            except OSError as error:
                log_failure(f"resolving daemon address {self._ip}", error)
        return self._target

    def send_entity(self, entity: Any) -> None:
        try:
            document = entity.to_dict()
            text = serialize(document)
            texts = [text] if len(text) <= DOCUMENT_LIMIT else fit(document)  # ASCII: len = bytes
            target = self._target if self._resolved else self._resolve()
            if target is None:
                return
            for text in texts:
                self._socket.send(_HEADER_BYTES + text.encode("ascii"))
        except Exception as error:  # noqa: BLE001 - an emitter must never raise
            log_failure("sending a segment document", error)
