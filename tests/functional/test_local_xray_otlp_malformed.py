"""Acceptance 5 of issue 15: malformed OTLP - bad base64, bad protobuf, bad JSON, oversize,
wrong content type - sent to the running local X-Ray over real sockets gets a clear error
(OTLP/HTTP's status and google.rpc.Status body; the daemon's count and log line named
"otlp: ...") and never stops it: good spans and segment documents go in afterwards."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import socket
import time
from collections.abc import Iterator

import pytest
import requests
from google.rpc import status_pb2
from lambda_tracing_local.xray import LocalXRay
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from test_local_xray_support import client

ADOT_HEADER = b'{"format":"json","version":1}\n'
PROTOBUF = {"Content-Type": "application/x-protobuf"}


@pytest.fixture(scope="module")
def xray() -> Iterator[LocalXRay]:
    with LocalXRay(ingest_processes=0) as local:
        yield local


def otlp_rejections(xr: LocalXRay) -> int:
    return int(xr.stats["rejected_by_reason"].get("otlp", 0))


def spans(count: int, start: float | None = None, trace: str = "6a1b2c3d") -> bytes:
    start = time.time() - 1 if start is None else start
    message = ExportTraceServiceRequest()
    scope = message.resource_spans.add().scope_spans.add()
    for index in range(count):
        scope.spans.add(
            trace_id=bytes.fromhex(trace + "0" * 23 + "1"),
            span_id=(index + 1).to_bytes(8, "big"),
            name="work",
            kind=Span.SPAN_KIND_SERVER,
            start_time_unix_nano=int(start * 1e9),
            end_time_unix_nano=int((start + 0.1) * 1e9),
        )
    return message.SerializeToString()


def post(xr: LocalXRay, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(f"{xr.api_url}/v1/traces", data=body, headers=headers, timeout=30)


def status_of(response: requests.Response) -> str:
    if response.headers["Content-Type"] == "application/json":
        return str(response.json()["message"])
    status = status_pb2.Status()
    status.ParseFromString(response.content)
    return status.message


def still_serving(xr: LocalXRay) -> None:
    """A good OTLP request and a segment document still go in."""
    good = post(xr, spans(1, trace="7a1b2c3d"), PROTOBUF)
    assert good.status_code == 200 and good.headers["Content-Type"] == "application/x-protobuf"
    assert ExportTraceServiceResponse.FromString(good.content) == ExportTraceServiceResponse()
    now = time.time()
    document = {
        "trace_id": f"1-{int(now):08x}-{'c' * 24}",
        "id": "0123456789abcdef",
        "name": "sdk",
        "start_time": now - 1,
        "end_time": now,
    }
    answer = client(xr.api_url).put_trace_segments(TraceSegmentDocuments=[json.dumps(document)])
    assert answer["UnprocessedTraceSegments"] == []


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    ids=[
        "text/plain",
        "no content type",
        "bad protobuf",
        "bad json",
        "id not hex",
        "bad gzip",
        "zstd",
        "10001 spans",
        "gzip bomb",
    ],
    argvalues=[
        (spans(1), {"Content-Type": "text/plain"}, 415, "Content-Type 'text/plain' is not OTLP"),
        (spans(1), {}, 415, "is not OTLP: use application/x-protobuf or application/json"),
        (b"\x0a\x05\xff", PROTOBUF, 400, "not an OTLP ExportTraceServiceRequest protobuf"),
        (b'{"resourceSpans": [', {"Content-Type": "application/json"}, 400, "body is not JSON"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": "zz"}]}]}]}',
            {"Content-Type": "application/json"},
            400,
            "spanId 'zz' is not hex",
        ),
        (b"\x1f\x8b broken", {**PROTOBUF, "Content-Encoding": "gzip"}, 400, "body is not gzip"),
        (spans(1), {**PROTOBUF, "Content-Encoding": "zstd"}, 415, "Content-Encoding 'zstd'"),
        (spans(10_001), PROTOBUF, 400, "10001 spans in one request; X-Ray takes at most 10,000"),
        (
            gzip.compress(b"\0" * (5 * 1024 * 1024 + 1)),
            {**PROTOBUF, "Content-Encoding": "gzip"},
            413,
            "over the 5242880 byte limit",
        ),
    ],
)
def test_bad_requests_get_a_clear_otlp_error(
    xray: LocalXRay, body: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    before = otlp_rejections(xray)
    response = post(xray, body, headers)
    assert response.status_code == status
    assert message in status_of(response) and status_of(response).startswith("otlp: ")
    still_serving(xray)
    assert otlp_rejections(xray) == before + 1


def test_a_body_over_5_mb_is_refused_unread(xray: LocalXRay) -> None:
    response = post(xray, b"\0" * (5 * 1024 * 1024 + 1), PROTOBUF)
    assert response.status_code == 413 and "limit of 5 MB" in status_of(response)
    assert response.headers.get("Connection") == "close"
    chunked = post(xray, iter([spans(1)]), PROTOBUF)  # requests streams it chunked
    assert chunked.status_code == 411 and "Content-Length" in status_of(chunked)
    still_serving(xray)


def test_a_bug_in_the_intake_costs_one_request(
    xray: LocalXRay, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("lambda_tracing_local.xray.otlp.intake.HttpIntake.handle", broken)
    response = post(xray, spans(1), PROTOBUF)
    assert response.status_code == 500
    status = status_pb2.Status.FromString(response.content)
    assert status.code == 13 and status.message == "otlp: internal error in local X-Ray"
    monkeypatch.undo()
    still_serving(xray)


def test_rejected_spans_come_back_as_partial_success(xray: LocalXRay) -> None:
    before, stored = otlp_rejections(xray), xray.stats["stored"]
    request = ExportTraceServiceRequest.FromString(spans(3, trace="8a1b2c3d"))
    scope_spans = request.resource_spans[0].scope_spans[0].spans
    scope_spans[1].start_time_unix_nano = int((time.time() - 15 * 86400) * 1e9)
    scope_spans[2].trace_id = bytes(16)
    response = post(xray, request.SerializeToString(), PROTOBUF)
    assert response.status_code == 200
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 2
    assert "14 days" in answer.partial_success.error_message
    assert "not 16 non-zero bytes" in answer.partial_success.error_message
    assert xray.stats["stored"] == stored + 1 and otlp_rejections(xray) == before + 2


def test_json_answers_are_json(xray: LocalXRay) -> None:
    body = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "0af7651916cd43dd8448eb211c80319c",
                                "spanId": "b7ad6b7169203331",
                                "name": "old",
                                "kind": 2,
                                "startTimeUnixNano": "1544712660000000000",
                                "endTimeUnixNano": "1544712661000000000",
                            }
                        ]
                    }
                ]
            }
        ]
    }
    response = post(xray, json.dumps(body).encode(), {"Content-Type": "application/json"})
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    assert response.json()["partialSuccess"]["rejectedSpans"] == "1"


def test_bad_datagrams_are_counted_and_logged_as_otlp(
    xray: LocalXRay, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lambda_tracing_local.xray.daemon")
    before = xray.wait_until_idle()
    host, port = xray.udp_address.split(":")
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bad = [
        ADOT_HEADER + b"T1Snot*base64",
        ADOT_HEADER + b"T1S" + base64.b64encode(b"\x0a\x05\xff"),
        ADOT_HEADER + b"M1" + base64.b64encode(b""),
        ADOT_HEADER + b"T1S" + base64.b64encode(spans(1, start=time.time() + 3 * 3600)),
        ADOT_HEADER + b"{not json",
    ]
    for datagram in [*bad, ADOT_HEADER + b"T1S" + base64.b64encode(spans(2, trace="9a1b2c3d"))]:
        sender.sendto(datagram, (host, int(port)))
    assert xray.wait_for(before["stored"] + 2, timeout=10)
    stats = xray.wait_until_idle()
    rejected = stats["rejected_by_reason"]
    assert rejected["otlp"] - before["rejected_by_reason"].get("otlp", 0) == 4
    assert rejected["InvalidJson"] - before["rejected_by_reason"].get("InvalidJson", 0) == 1
    assert stats["received"] - before["received"] == 7
    logged = [r.getMessage().split(": ", 1)[1] for r in caplog.records]
    assert [line.split(":")[0] for line in logged] == ["otlp"] * 4 + ["json"]
    assert "not base64" in logged[0] and "protobuf" in logged[1] and "metrics" in logged[2]
    assert "2 hours ahead" in logged[3]
    still_serving(xray)


def test_a_burst_of_adot_datagrams_is_ingested_by_the_worker_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Batches handed to the worker processes (which load protobuf themselves) store every
    span all the same."""
    monkeypatch.setattr("lambda_tracing_local.xray.daemon.POOL_START_BATCH", 1)
    with LocalXRay(ingest_processes=2) as local:
        host, port = local.udp_address.split(":")
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for index in range(300):
            body = spans(2, trace=f"{index + 1:08x}")
            sender.sendto(ADOT_HEADER + b"T1S" + base64.b64encode(body), (host, int(port)))
        assert local.wait_for(600, timeout=60), local.stats
        stats = local.wait_until_idle(timeout=60)
        assert (stats["received"], stats["stored"], stats["rejected"]) == (600, 600, 0)
        assert local.daemon is not None and local.daemon.workers_started
