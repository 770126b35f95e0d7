"""The local HTTP server the HTTP rows call, in its own process on loopback.

A tiny HTTP/1.1 keep-alive server answering every GET with 200 and a short body, started and
stopped by the driver through its Popen handle. (DynamoDB is moto in-process: moto_in_process.)
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from types import TracebackType

_HTTP_SERVER = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def do_GET(self):
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], limit_seconds: float = 30) -> None:
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"downstream server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"downstream server did not listen on {port}")


class Downstream:
    """Context manager owning the local HTTP server process."""

    def __init__(self) -> None:
        self.http_url = ""
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Downstream:
        port = free_port()
        self._process = subprocess.Popen([sys.executable, "-c", _HTTP_SERVER, str(port)])
        try:
            _wait_for_port(port, self._process)
        except BaseException:
            self._stop()
            raise
        self.http_url = f"http://127.0.0.1:{port}/"
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()

    def _stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
