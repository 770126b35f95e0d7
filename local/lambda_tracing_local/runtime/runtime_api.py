"""The Lambda Runtime API (2018-06-01) that one execution environment's awslambdaric talks to."""

from __future__ import annotations

import email.parser
import io
import json
import queue
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"
# awslambdaric sends an X-Ray error cause header whose value is up to 1 MiB (a long exception
# message, a deep stack); Lambda takes it. The standard library's parser stops at 64 KiB per
# line. The line also holds the header's name and CRLF: room for those.
CAUSE_LIMIT = 1 << 20
HEADER_LINE_LIMIT = CAUSE_LIMIT + 1024
HEADER_BLOCK_LIMIT = 2 << 20
DRAIN_LIMIT = 64 << 20
_RESULT_PATH = re.compile(rf"^{PREFIX}/invocation/([^/]+)/(response|error)$")


@dataclass
class Invocation:
    """One event handed to the runtime, and what the runtime answered."""

    request_id: str
    event: bytes
    function_arn: str
    deadline_ms: int
    trace_header: str | None = None
    client_context: str | None = None
    cognito_identity: str | None = None
    delivered_at: float | None = None
    finished_at: float | None = None
    response: bytes | None = None
    error: dict[str, Any] | None = None
    error_type: str | None = None
    xray_cause: dict[str, Any] | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def headers(self) -> dict[str, str]:
        headers = {
            "Lambda-Runtime-Aws-Request-Id": self.request_id,
            "Lambda-Runtime-Deadline-Ms": str(self.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": self.function_arn,
        }
        optional = {
            "Lambda-Runtime-Trace-Id": self.trace_header,
            "Lambda-Runtime-Client-Context": self.client_context,
            "Lambda-Runtime-Cognito-Identity": self.cognito_identity,
        }
        headers.update({name: value for name, value in optional.items() if value})
        return headers


class RuntimeApiServer(ThreadingHTTPServer):
    """Serves one environment: /next blocks until `submit` hands it an invocation."""

    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.pending: queue.Queue[Invocation] = queue.Queue()
        self.in_flight: dict[str, Invocation] = {}
        self.init_error: dict[str, Any] | None = None
        self.init_error_type: str | None = None
        self.next_polls = 0
        self.last_next_at: float | None = None
        self.changed = threading.Condition()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True, name="runtime-api")

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request: object, client_address: object) -> None:
        """A killed runtime drops its connection mid-request: expected, not worth a traceback."""

    def submit(self, invocation: Invocation) -> None:
        self.in_flight[invocation.request_id] = invocation
        self.pending.put(invocation)

    def note_next_poll(self) -> None:
        with self.changed:
            self.next_polls += 1
            self.last_next_at = time.time()
            self.changed.notify_all()

    def note_init_error(self, body: dict[str, Any], error_type: str | None) -> None:
        with self.changed:
            self.init_error = body
            self.init_error_type = error_type
            self.changed.notify_all()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: RuntimeApiServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: the function's own logs are what matter."""

    def parse_request(self) -> bool:
        """The standard library's, with header lines as long as Lambda's Runtime API takes."""
        # The request line is parsed as usual, over an empty header block; then the real one.
        stream = self.rfile
        self.rfile = io.BytesIO(b"\r\n")
        try:
            if not super().parse_request():
                return False
        finally:
            self.rfile = stream
        if self.request_version == "HTTP/0.9":  # no headers follow
            return True
        head = self._read_header_block()
        if head is None:
            self._refuse_too_large()
            return False
        self.headers = email.parser.Parser(_class=self.MessageClass).parsestr(
            head.decode("iso-8859-1")
        )
        # As the standard library's parse_request ends, over the real headers
        connection = self.headers.get("Connection", "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive" and self.protocol_version >= "HTTP/1.1":
            self.close_connection = False
        if (
            self.headers.get("Expect", "").lower() == "100-continue"
            and self.protocol_version >= "HTTP/1.1"
            and self.request_version >= "HTTP/1.1"
        ):
            return self.handle_expect_100()
        return True

    def _refuse_too_large(self) -> None:
        """431, then read what the client still sends before closing: closing on unread data
        resets the connection, and the client would never see why."""
        self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Header line too long")
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_WR)
        self.connection.settimeout(1.0)
        drained = 0
        try:
            while drained < DRAIN_LIMIT and (chunk := self.connection.recv(1 << 16)):
                drained += len(chunk)
        except OSError:
            pass

    def _read_header_block(self) -> bytes | None:
        lines: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(HEADER_LINE_LIMIT + 1)
            size += len(line)
            if len(line) > HEADER_LINE_LIMIT or size > HEADER_BLOCK_LIMIT:
                return None
            lines.append(line)
            if line in (b"\r\n", b"\n", b""):
                return b"".join(lines)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        if self.path != f"{PREFIX}/invocation/next":
            self._reply(404, {"errorType": "NotFound", "errorMessage": self.path})
            return
        self.server.note_next_poll()
        invocation = self.server.pending.get()
        invocation.delivered_at = time.time()
        self._reply(200, invocation.event, invocation.headers())

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == f"{PREFIX}/init/error":
            error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
            self.server.note_init_error(_json_or_text(body), error_type)
            self._reply(202, {"status": "OK"})
            return
        match = _RESULT_PATH.match(self.path)
        invocation = self.server.in_flight.pop(match.group(1), None) if match else None
        if match is None:
            self._reply(404, {"errorType": "NotFound", "errorMessage": self.path})
            return
        if invocation is None:
            self._reply(400, {"errorType": "InvalidRequestID", "errorMessage": match.group(1)})
            return
        if match.group(2) == "response":
            invocation.response = body
        else:
            invocation.error = _json_or_text(body)
            invocation.error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
            cause = self.headers.get("Lambda-Runtime-Function-XRay-Error-Cause")
            invocation.xray_cause = _json_or_none(cause)
        invocation.finished_at = time.time()
        invocation.done.set()
        self._reply(202, {"status": "OK"})

    def _reply(
        self, status: int, body: bytes | dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _json_or_text(body: bytes) -> dict[str, Any]:
    parsed = _json_or_none(body.decode(errors="replace"))
    return parsed if parsed is not None else {"errorMessage": body.decode(errors="replace")}


def _json_or_none(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
