"""API Gateway in front of local functions: HTTP on loopback in, REST proxy events out."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lambda_tracing_local.runtime import template as tpl
from lambda_tracing_local.runtime.local_lambda import LocalLambda
from lambda_tracing_local.runtime.xray_segments import (
    SegmentSender,
    new_entity_id,
    new_trace_id,
    parse_trace_header,
)

INTERNAL_ERROR = {"message": "Internal server error"}
log = logging.getLogger(__name__)


@dataclass
class Route:
    method: str  # upper case, or ANY
    path: str
    pattern: re.Pattern[str]
    function: str
    api: str
    stage: str


def routes_of(local_lambda: LocalLambda) -> list[Route]:
    """Api events of every function; the stage comes from the referenced Serverless::Api."""
    routes = []
    resources = local_lambda.template["Resources"]
    for spec in local_lambda.functions.values():
        for props in spec.events_of_type("Api"):
            api_ref = props.get("RestApiId")
            # SAM names the implicit API of RestApiId-less events ServerlessRestApi
            api = str(api_ref["Ref"]) if isinstance(api_ref, dict) else "ServerlessRestApi"
            stage = ((resources.get(api) or {}).get("Properties") or {}).get("StageName", "Prod")
            path = str(props["Path"])
            # {name} is one segment, {name+} the rest of the path
            regex = re.sub(r"\\\{([^}+]+)\\\+\\\}", r"(?P<\1>.+)", re.escape(path))
            regex = re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", regex)
            routes.append(
                Route(
                    str(props["Method"]).upper(),
                    path,
                    re.compile(f"^{regex}$"),
                    spec.name,
                    api,
                    str(stage),
                )
            )
    return routes


class ApiFront(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, local_lambda: LocalLambda, xray_daemon: str | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.local_lambda = local_lambda
        self.routes = routes_of(local_lambda)
        self.sender = SegmentSender(xray_daemon) if xray_daemon else None
        self._thread = threading.Thread(target=self.serve_forever, daemon=True, name="api-front")

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ApiFront:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
        if self.sender is not None:
            self.sender.close()

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            found = route.pattern.match(path)
            if found and route.method in (method, "ANY"):
                return route, found.groupdict()
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ApiFront
    _replied = False

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: the demo prints a progress bar instead."""

    def do_GET(self) -> None:  # noqa: N802
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def do_PUT(self) -> None:  # noqa: N802
        self._serve()

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve()

    def do_PATCH(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        try:
            self._proxy()
        except Exception as error:  # our failure, not the function's: answer as API Gateway
            log.exception("API front: %s %s failed", self.command, self.path)
            if self._replied:
                return
            with contextlib.suppress(OSError):
                self._reply(500, {"message": f"Internal server error ({error})"}, {})

    def _proxy(self) -> None:
        started = time.time()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        split = urlsplit(self.path)
        matched = self.server.match(self.command, split.path)
        if matched is None:  # what API Gateway answers for an unknown route
            self._reply(403, {"message": "Missing Authentication Token"}, {})
            return
        route, path_parameters = matched
        upstream = parse_trace_header(self.headers.get("X-Amzn-Trace-Id"))
        trace_id = upstream.get("Root") or new_trace_id(started)
        sampled = upstream.get("Sampled") != "0"
        segment_id, invoke_id = new_entity_id(), new_entity_id()
        request_id = str(uuid.uuid4())
        event = self._proxy_event(
            route, split.path, split.query, path_parameters, body, request_id, trace_id
        )
        header = f"Root={trace_id};Parent={invoke_id};Sampled={'1' if sampled else '0'}"
        invoke_started = time.time()
        result = self.server.local_lambda.invoke(route.function, event, upstream_trace=header)
        invoke_ended = time.time()
        status, headers, payload = _http_response(result.payload, result.function_error)
        headers["X-Amzn-Trace-Id"] = f"Root={trace_id};Sampled={'1' if sampled else '0'}"
        self._reply(status, payload, headers)
        if sampled and self.server.sender is not None:
            segment = _api_segment(
                route,
                self,
                request_id,
                trace_id,
                segment_id,
                upstream.get("Parent"),
                started,
                time.time(),
                status,
            )
            segment["subsegments"] = [
                {
                    "id": invoke_id,
                    "name": "Lambda",
                    "namespace": "aws",
                    "start_time": invoke_started,
                    "end_time": invoke_ended,
                    "http": {"response": {"status": 200}},
                    "aws": {
                        "function_name": route.function,
                        "region": tpl.REGION,
                        "operation": "Invoke",
                        "resource_names": [route.function],
                    },
                }
            ]
            self.server.sender.send([segment])

    def _proxy_event(
        self,
        route: Route,
        path: str,
        query: str,
        path_parameters: dict[str, str],
        body: bytes,
        request_id: str,
        trace_id: str,
    ) -> dict[str, Any]:
        headers = {name: value for name, value in self.headers.items()}
        headers["X-Amzn-Trace-Id"] = f"Root={trace_id}"
        multi_headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            multi_headers.setdefault(name, []).append(value)
        pairs = parse_qsl(query, keep_blank_values=True)
        multi_query: dict[str, list[str]] = {}
        for name, value in pairs:
            multi_query.setdefault(name, []).append(value)
        try:
            text, is_base64 = body.decode(), False
        except UnicodeDecodeError:
            text, is_base64 = base64.b64encode(body).decode(), True
        now = datetime.now(UTC)
        return {
            "body": text if body else None,
            "resource": route.path,
            "path": path,
            "httpMethod": self.command,
            "isBase64Encoded": is_base64,
            "queryStringParameters": dict(pairs) or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_parameters or None,
            "stageVariables": None,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "requestContext": {
                "accountId": tpl.ACCOUNT_ID,
                "resourceId": "local",
                "stage": route.stage,
                "requestId": request_id,
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "identity": {
                    "sourceIp": self.client_address[0],
                    "userAgent": headers.get("User-Agent"),
                },
                "path": f"/{route.stage}{path}",
                "resourcePath": route.path,
                "httpMethod": self.command,
                "apiId": route.api.lower(),
                "protocol": self.request_version,
            },
        }

    def _reply(self, status: int, body: bytes | dict[str, Any], headers: dict[str, str]) -> None:
        self._replied = True
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        headers.setdefault("Content-Type", "application/json")
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _http_response(payload: Any, function_error: str | None) -> tuple[int, dict[str, str], bytes]:
    """Lambda proxy integration: a function error or a malformed answer is a 502."""
    if function_error or not isinstance(payload, dict) or "statusCode" not in payload:
        return 502, {}, json.dumps(INTERNAL_ERROR).encode()
    try:
        status = int(payload["statusCode"])
    except (TypeError, ValueError):
        return 502, {}, json.dumps(INTERNAL_ERROR).encode()
    headers = {str(k): str(v) for k, v in (payload.get("headers") or {}).items()}
    body = payload.get("body") or ""
    data = base64.b64decode(body) if payload.get("isBase64Encoded") else str(body).encode()
    return status, headers, data


def _api_segment(
    route: Route,
    handler: _Handler,
    request_id: str,
    trace_id: str,
    segment_id: str,
    parent_id: str | None,
    start: float,
    end: float,
    status: int,
) -> dict[str, Any]:
    """The segment API Gateway sends for a stage with tracing enabled."""
    host = handler.headers.get("Host", "127.0.0.1")
    segment: dict[str, Any] = {
        "name": f"{route.api}/{route.stage}",
        "id": segment_id,
        "trace_id": trace_id,
        "start_time": start,
        "end_time": end,
        "origin": "AWS::ApiGateway::Stage",
        "resource_arn": (
            f"arn:aws:apigateway:{tpl.REGION}::/restapis/{route.api.lower()}/stages/{route.stage}"
        ),
        "http": {
            "request": {
                "method": handler.command,
                "url": f"http://{host}{handler.path}",
                "client_ip": handler.client_address[0],
                "user_agent": handler.headers.get("User-Agent", ""),
            },
            "response": {"status": status},
        },
        "aws": {
            "api_gateway": {
                "request_id": request_id,
                "rest_api_id": route.api.lower(),
                "stage": route.stage,
            }
        },
        "annotations": {},
    }
    if parent_id:
        segment["parent_id"] = parent_id
    if status >= 500:
        segment["fault"] = True
    elif status >= 400:
        segment["error"] = True
        if status == 429:
            segment["throttle"] = True
    return segment
