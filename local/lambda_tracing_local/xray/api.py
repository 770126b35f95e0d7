"""X-Ray's REST-JSON API over HTTP, so boto3 works against it through endpoint_url or
AWS_ENDPOINT_URL_XRAY. Requests are checked against botocore's own input shapes; every
failure answers with X-Ray's error shape (x-amzn-ErrorType header, JSON Message)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from .operations import ApiError, Operations, invalid
from .sampling import SamplingRules

if TYPE_CHECKING:
    from .otlp.intake import HttpIntake

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 16 * 1024 * 1024
ROUTES = {  # request URI -> (botocore operation name, Operations method)
    "/TraceSegments": ("PutTraceSegments", "put_trace_segments"),
    "/Traces": ("BatchGetTraces", "batch_get_traces"),
    "/TraceSummaries": ("GetTraceSummaries", "get_trace_summaries"),
    "/ServiceGraph": ("GetServiceGraph", "get_service_graph"),
    "/TraceGraph": ("GetTraceGraph", "get_trace_graph"),
    "/Groups": ("GetGroups", "get_groups"),
    "/GetGroup": ("GetGroup", "get_group"),
}
SAMPLING_ROUTES = {  # served by SamplingRules, here and on the daemon's TCP address
    "/GetSamplingRules": ("GetSamplingRules", "get_sampling_rules"),
    "/SamplingTargets": ("GetSamplingTargets", "get_sampling_targets"),
}
OTLP_PATH = "/v1/traces"  # OTLP/HTTP, as X-Ray's OTLP endpoint (see otlp/intake.py)


@cache
def _service_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("xray")


def check_request(operation: str, request: Any) -> None:
    """Raise InvalidRequestException with botocore's report if the request breaks the model."""
    from botocore.validate import ParamValidator

    if not isinstance(request, dict):
        raise invalid("the request body must be a JSON object")
    shape = _service_model().operation_model(operation).input_shape
    try:
        report = ParamValidator().validate(request, shape)
    except Exception as error:  # botocore gives up on e.g. a timestamp in the year 10^9
        raise invalid(f"{operation}: a parameter could not be read: {error}") from None
    if report.has_errors():
        raise invalid(f"{operation}: {report.generate_report()}")


class _Handler(BaseHTTPRequestHandler):
    server: XRayHTTPServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path.split("?", 1)[0] == OTLP_PATH and self.server.operations is not None:
            self._otlp()
            return
        try:
            self._answer(200, self._dispatch())
        except ApiError as error:
            self._answer(error.status, {"Message": error.message}, error.code)
        except Exception:  # a bug must cost one request, never the server
            log.exception("local X-Ray API failed on %s", self.path)
            self._answer(500, {"Message": "internal error in local X-Ray"}, "ServiceException")

    def do_GET(self) -> None:  # noqa: N802
        self._reject_method()

    do_PUT = do_DELETE = do_PATCH = do_GET  # noqa: N815

    def _reject_method(self) -> None:
        self._discard_body()
        self._answer(
            405,
            {"Message": f"{self.command} is not an X-Ray operation; use POST"},
            "InvalidRequestException",
        )

    def _dispatch(self) -> dict[str, Any]:
        path = self.path.split("?", 1)[0]
        server = self.server
        route = SAMPLING_ROUTES.get(path)
        target: Operations | SamplingRules | None = server.sampling
        if route is None and server.operations is not None:
            route, target = ROUTES.get(path), server.operations
        if route is None or target is None:
            self._discard_body()
            raise ApiError("UnknownOperationException", f"no X-Ray operation at {path}", 404)
        operation, method = route
        request = self._read_json()
        check_request(operation, request)
        result: dict[str, Any] = getattr(target, method)(request)
        return result

    def _read_json(self) -> Any:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise invalid("Content-Length is not a number") from None
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            raise invalid(f"request body of {length} bytes is over {MAX_BODY_BYTES}")
        body = self.rfile.read(length) if length else b"{}"
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as error:  # [[[[... too deep
            raise invalid(f"request body is not JSON: {error}") from None

    def _otlp(self) -> None:
        from .otlp.decode import MAX_REQUEST_BYTES
        from .otlp.intake import internal_error, too_large

        content_type = self.headers.get("Content-Type") or ""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if "Transfer-Encoding" in self.headers:  # chunked: not read here
            length = -1
        try:
            if length < 0 or length > MAX_REQUEST_BYTES:
                self.close_connection = True  # the body is left unread
                answer = too_large(length, content_type)
            else:
                body = self.rfile.read(length) if length else b""
                encoding = self.headers.get("Content-Encoding") or ""
                answer = self.server.otlp().handle(body, content_type, encoding, time.time())
        except Exception:  # a bug must cost one request, never the server
            log.exception("local X-Ray OTLP intake failed")
            answer = internal_error(content_type)
        self._send(answer.status, answer.body, answer.content_type)

    def _discard_body(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if 0 < length <= MAX_BODY_BYTES:
            self.rfile.read(length)
        elif length:
            self.close_connection = True

    def _answer(self, status: int, body: dict[str, Any], error_type: str | None = None) -> None:
        payload = json.dumps(body, separators=(",", ":")).encode()
        self._send(status, payload, "application/json", error_type)

    def _send(
        self, status: int, payload: bytes, content_type: str, error_type: str | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        if self.close_connection:  # e.g. a body left unread: the client must not reuse it
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("local X-Ray API: " + format, *args)


class XRayHTTPServer(ThreadingHTTPServer):
    """The API (operations and sampling), or with operations=None what the daemon serves
    on its TCP address: the sampling operations alone."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        operations: Operations | None,
        sampling: SamplingRules | None = None,
        record_otlp: Callable[[int, int], None] | None = None,
    ) -> None:
        self.operations = operations
        self.sampling = sampling
        self._record_otlp = record_otlp  # counts OTLP/HTTP spans stored and rejected
        self._otlp: HttpIntake | None = None
        self._otlp_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        super().__init__(address, _Handler)

    def otlp(self) -> HttpIntake:
        """The OTLP/HTTP intake, made on the first request (it loads protobuf)."""
        with self._otlp_lock:
            if self._otlp is None:
                from .otlp.intake import HttpIntake

                assert self.operations is not None
                self._otlp = HttpIntake(self.operations.store, self._record_otlp)
            return self._otlp

    def start(self) -> threading.Thread:
        name = "local-xray-api" if self.operations is not None else "local-xray-sampling"
        self._thread = threading.Thread(target=self.serve_forever, name=name, daemon=True)
        self._thread.start()
        return self._thread

    def close(self) -> None:
        """Stop serving (if started: shutdown() would wait forever for a loop never begun)
        and release the socket."""
        if self._thread is not None:
            self.shutdown()
            self._thread = None
        self.server_close()
