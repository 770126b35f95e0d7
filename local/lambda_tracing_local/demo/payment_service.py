"""The sample app's "external" payment service: a small HTTP server on loopback.

Every `throttle_every`-th charge is answered 429 so the map shows a throttled remote node.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class PaymentService(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, throttle_every: int = 8) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.throttle_every = throttle_every
        self.charges = 0
        self.throttled = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True, name="payments")

    @property
    def url(self) -> str:
        """Named by `localhost`, so the service map shows a host name rather than an address."""
        return f"http://localhost:{self.server_address[1]}/charge"

    def __enter__(self) -> PaymentService:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

    def next_answer(self) -> int:
        with self._lock:
            self.charges += 1
            throttle = self.throttle_every > 0 and self.charges % self.throttle_every == 0
            self.throttled += throttle
        return 429 if throttle else 200


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: PaymentService

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet."""

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status = self.server.next_answer()
        body = {"status": "paid"} if status == 200 else {"message": "too many charges, slow down"}
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
