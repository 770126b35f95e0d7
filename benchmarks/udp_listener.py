"""A stand-in for the X-Ray daemon: a UDP socket on loopback that counts datagrams and bytes."""

from __future__ import annotations

import socket
import threading
import time


class DaemonListener:
    """Counts what arrives at AWS_XRAY_DAEMON_ADDRESS; runs in a background thread."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.datagrams = 0
        self.bytes = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._receive, name="daemon-listener", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._socket.getsockname()
        return f"{host}:{port}"

    def __enter__(self) -> DaemonListener:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._thread.join()
        self._socket.close()

    def _receive(self) -> None:
        while not self._stopping.is_set():
            try:
                data = self._socket.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self.datagrams += 1
            self.bytes += len(data)

    def settled_counts(
        self, quiet_seconds: float = 0.01, limit_seconds: float = 2.0
    ) -> tuple[int, int]:
        """(datagrams, bytes) once nothing new has arrived for `quiet_seconds`."""
        deadline = time.monotonic() + limit_seconds
        last = (self.datagrams, self.bytes)
        while time.monotonic() < deadline:
            time.sleep(quiet_seconds)
            now = (self.datagrams, self.bytes)
            if now == last:
                return now
            last = now
        return last
