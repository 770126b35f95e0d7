"""The local Runtime API takes what Lambda's takes from awslambdaric: an X-Ray error cause
header of up to 1 MiB (awslambdaric drops larger ones itself), curl's `Expect: 100-continue`."""

from __future__ import annotations

import http.client
import json
import socket

import pytest
from lambda_tracing_local.runtime.runtime_api import (
    CAUSE_LIMIT,
    HEADER_LINE_LIMIT,
    Invocation,
    RuntimeApiServer,
)

CAUSE_HEADER = "Lambda-Runtime-Function-XRay-Error-Cause"


@pytest.fixture
def server() -> RuntimeApiServer:
    api = RuntimeApiServer()
    api.start()
    yield api
    api.stop()


def _submit(server: RuntimeApiServer, request_id: str) -> Invocation:
    invocation = Invocation(
        request_id, b"{}", "arn:aws:lambda:us-east-1:123456789012:function:f", 0
    )
    server.submit(invocation)
    return invocation


def _post_error(server: RuntimeApiServer, request_id: str, cause: str) -> int:
    host, port = server.address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    body = json.dumps({"errorMessage": "m" * 200_000, "errorType": "RuntimeError"}).encode()
    connection.putrequest("POST", f"/2018-06-01/runtime/invocation/{request_id}/error")
    connection.putheader(CAUSE_HEADER, cause)
    connection.putheader("Lambda-Runtime-Function-Error-Type", "RuntimeError")
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body)
    status = connection.getresponse().status
    connection.close()
    return status


def test_a_long_xray_error_cause_is_taken(server: RuntimeApiServer) -> None:
    invocation = _submit(server, "long-cause")
    cause = json.dumps(
        {"working_directory": "/var/task", "exceptions": [{"message": "m" * 300_000}]}
    )
    assert _post_error(server, "long-cause", cause) == 202
    assert invocation.done.is_set()
    assert invocation.error_type == "RuntimeError"
    assert invocation.error["errorMessage"] == "m" * 200_000
    assert invocation.xray_cause["exceptions"][0]["message"] == "m" * 300_000


def test_the_largest_cause_awslambdaric_sends_is_taken(server: RuntimeApiServer) -> None:
    """awslambdaric keeps a cause under 1 MiB (lambda_runtime_client.post_invocation_error):
    the header line is that plus its name and CRLF."""
    invocation = _submit(server, "largest")
    assert _post_error(server, "largest", "c" * (CAUSE_LIMIT - 1)) == 202
    assert invocation.done.is_set()


def test_a_header_line_over_the_limit_is_refused_clearly(server: RuntimeApiServer) -> None:
    invocation = _submit(server, "too-long")
    status = _post_error(server, "too-long", "x" * (HEADER_LINE_LIMIT + 10))
    assert status == 431
    assert not invocation.done.is_set()


def test_expect_continue_and_connection_close_are_honoured(server: RuntimeApiServer) -> None:
    invocation = _submit(server, "curl-like")
    body = b'{"ok": true}'
    host, port = server.address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(
            b"POST /2018-06-01/runtime/invocation/curl-like/response HTTP/1.1\r\n"
            b"Host: x\r\nExpect: 100-continue\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        interim = raw.recv(1024)
        assert interim.startswith(b"HTTP/1.1 100"), interim
        raw.sendall(body)
        reply = b""
        while chunk := raw.recv(4096):  # the server closes: Connection: close was honoured
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 202"), reply
    assert invocation.response == body
