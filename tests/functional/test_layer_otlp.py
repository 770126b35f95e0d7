"""Issue 15, acceptance 3: the built layer in OTLP mode (LAMBDA_TRACING_EXPORTER=otlp), run as
Lambda runs it (the exec wrapper, a fresh _X_AMZN_TRACE_ID per invocation), sending to a real UDP
listener. Every datagram must be ADOT's framing and decode with opentelemetry-proto; the handler
span is a SERVER span whose trace id and parent come from the header; each botocore call is a
CLIENT span with rpc.system=aws-api; outbound HTTP carries traceparent beside X-Amzn-Trace-Id.
"""

from __future__ import annotations

import base64
import json
import socket
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from layer_support import build_layer, new_trace_header, run_through_wrapper
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

APP = textwrap.dedent("""
    import boto3
    import requests
    from botocore.stub import Stubber

    import lambda_tracing

    client = boto3.client("dynamodb", region_name="eu-west-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    session = requests.Session()

    def handler(event, context):
        key = {"id": {"S": "1"}}
        with Stubber(client) as stubber:
            for _ in range(event.get("calls", 1)):
                stubber.add_response("get_item", {"Item": key}, {"TableName": "orders", "Key": key})
                client.get_item(TableName="orders", Key=key)
        if event.get("url"):
            session.get(event["url"], timeout=5)
        for index in range(event.get("parts", 0)):
            with lambda_tracing.subsegment(f"part {index}", annotations={"index": index},
                                           metadata={"blob": "x" * 900}):
                pass
        if event.get("fail"):
            raise ValueError("failed on purpose")
        return {"ok": event["n"]}
""")


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).seen.append({key.lower(): value for key, value in self.headers.items()})
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("lambda-otlp")
    wrapper = build_layer(root / "opt")
    task = root / "task"
    task.mkdir()
    (task / "app.py").write_text(APP)
    return wrapper, task


@pytest.fixture
def http_server() -> Iterator[str]:
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/item"
    finally:
        server.shutdown()
        server.server_close()


def receive(listener: socket.socket, quiet_for: float = 0.3) -> list[bytes]:
    datagrams = []
    listener.settimeout(quiet_for)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            datagrams.append(listener.recv(70000))
        except TimeoutError:
            break
    return datagrams


def decode(datagram: bytes) -> list[Any]:
    """ADOT's framing: the daemon header line, T1S, base64 of an ExportTraceServiceRequest."""
    assert len(datagram) <= 64 * 1024
    header, _, body = datagram.partition(b"\n")
    assert json.loads(header) == {"format": "json", "version": 1}
    assert body[:3] == b"T1S"
    request = ExportTraceServiceRequest.FromString(base64.b64decode(body[3:], validate=True))
    return [
        span
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]


def header_ids(header: str) -> tuple[str, str]:
    fields = dict(part.split("=", 1) for part in header.split(";"))
    return fields["Root"][2:].replace("-", ""), fields["Parent"]


def attributes(span: Any) -> dict[str, Any]:
    return {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in span.attributes}


def test_otlp_mode_through_the_wrapper(layer: tuple[Path, Path], http_server: str) -> None:
    wrapper, task = layer
    headers = [new_trace_header() for _ in range(4)]
    unsampled = new_trace_header(sampled=0)
    invocations: list[dict[str, Any]] = [
        {"event": {"n": 0, "calls": 2, "url": http_server}, "trace_header": headers[0]},
        {"event": {"n": 1}, "trace_header": headers[1]},
        {"event": {"n": 2, "fail": True}, "trace_header": headers[2]},
        {"event": {"n": 3}, "trace_header": unsampled},
        {"event": {"n": 4, "parts": 120}, "trace_header": headers[3]},
    ]
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    listener.bind(("127.0.0.1", 0))
    try:
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        report = run_through_wrapper(
            wrapper,
            task,
            "app.handler",
            {"AWS_XRAY_DAEMON_ADDRESS": address, "LAMBDA_TRACING_EXPORTER": "otlp"},
            invocations,
        )
        datagrams = receive(listener)
    finally:
        listener.close()

    # The function is untouched.
    results = report["results"]
    assert [result.get("return") for result in results] == [
        {"ok": 0},
        {"ok": 1},
        None,
        {"ok": 3},
        {"ok": 4},
    ]
    assert results[2]["error"] == "ValueError"
    assert "lambda_tracing:" not in report["stderr"]

    spans = [span for datagram in datagrams for span in decode(datagram)]
    by_trace: dict[str, list[Any]] = {}
    for span in spans:
        by_trace.setdefault(span.trace_id.hex(), []).append(span)
    assert set(by_trace) == {header_ids(header)[0] for header in headers}  # Sampled=0: nothing
    assert len({span.span_id for span in spans}) == len(spans)  # none sent twice

    for header in headers:
        trace_id, parent = header_ids(header)
        trace = by_trace[trace_id]
        (server,) = [span for span in trace if span.kind == Span.SPAN_KIND_SERVER]
        assert server.parent_span_id.hex() == parent
        assert server.name == "## handler"
        assert attributes(server)["faas.invocation_id"]
        ids = {span.span_id for span in trace}
        for span in trace:  # every span hangs off the handler's or Lambda's (init) span
            assert span.parent_span_id in ids or span.parent_span_id.hex() == parent
        clients = [
            span
            for span in trace
            if span.kind == Span.SPAN_KIND_CLIENT
            and attributes(span).get("rpc.system") == "aws-api"
        ]
        calls = 2 if header == headers[0] else 1
        assert len(clients) == calls
        for client in clients:
            assert client.name == "DynamoDB.GetItem"
            values = attributes(client)
            assert (values["rpc.service"], values["rpc.method"]) == ("DynamoDB", "GetItem")
            assert values["aws.region"] == "eu-west-1"
            # from aws-xray-sdk's whitelist, read from its data file in the layer
            tables = values["aws.dynamodb.table_names"].values
            assert [table.string_value for table in tables] == ["orders"]
            assert client.parent_span_id == server.span_id

    # The first invocation: the cold-start breakdown, the HTTP call and its headers.
    first = by_trace[header_ids(headers[0])[0]]
    assert any(span.name.startswith("## init") for span in first)
    (http,) = [
        span
        for span in first
        if attributes(span).get("http.request.method") == "GET"
        and span.kind == Span.SPAN_KIND_CLIENT
    ]
    assert attributes(http)["url.full"] == http_server
    assert attributes(http)["server.address"] == "127.0.0.1"
    (seen,) = _Recorder.seen
    trace_id = header_ids(headers[0])[0]
    assert seen["traceparent"] == f"00-{trace_id}-{http.span_id.hex()}-01"
    assert seen["x-amzn-trace-id"].startswith(
        f"Root={headers[0].split(';')[0][5:]};Parent={http.span_id.hex()};Sampled=1"
    )

    # The failed invocation: an ERROR server span with the exception as an event.
    failed = [
        span for span in by_trace[header_ids(headers[2])[0]] if span.kind == Span.SPAN_KIND_SERVER
    ][0]
    assert failed.status.code == failed.status.STATUS_CODE_ERROR
    (event,) = failed.events
    assert attributes(event)["exception.type"] == "ValueError"

    # 120 custom spans with metadata do not fit one datagram: split, every span there once.
    big = by_trace[header_ids(headers[3])[0]]
    assert len([span for span in big if span.name.startswith("part ")]) == 120
    assert (
        sum(
            1
            for datagram in datagrams
            if decode(datagram)[0].trace_id.hex() == header_ids(headers[3])[0]
        )
        > 1
    )


ODD_APP = textwrap.dedent("""
    import lambda_tracing

    class Unprintable:
        __slots__ = ()  # no __dict__: aws-xray-sdk's metadata conversion keeps it as it is

        def __str__(self):
            raise RuntimeError("no str")

    def handler(event, context):
        with lambda_tracing.subsegment("work", metadata={"state": {"odd": Unprintable()}}):
            pass
        return {"ok": True}
""")


@pytest.mark.parametrize("exporter", ["xray", "otlp"])
def test_metadata_that_is_not_json_costs_the_metadata_not_the_span(
    layer: tuple[Path, Path], exporter: str
) -> None:
    """An object whose str() raises, put as metadata: that span's metadata becomes a marker
    and every span is sent, in both modes (OTLP mode used to lose the whole request)."""
    wrapper, task = layer
    (task / "odd_app.py").write_text(ODD_APP)
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    try:
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        report = run_through_wrapper(
            wrapper,
            task,
            "odd_app.handler",
            {"AWS_XRAY_DAEMON_ADDRESS": address, "LAMBDA_TRACING_EXPORTER": exporter},
            [{"event": {}, "trace_header": new_trace_header()}],
        )
        datagrams = receive(listener)
    finally:
        listener.close()
    assert report["results"][0]["return"] == {"ok": True}
    assert "failed" not in report["stderr"]
    if exporter == "otlp":
        spans = {span.name: attributes(span) for d in datagrams for span in decode(d)}
        marker = json.loads(spans["work"]["aws.xray.metadata.lambda_tracing"])
        assert "## handler" in spans
    else:
        documents = [json.loads(d.partition(b"\n")[2]) for d in datagrams]
        nodes = [node for doc in documents for node in [doc, *doc.get("subsegments", [])]]
        (work,) = [node for node in nodes if node["name"] == "work"]
        marker = work["metadata"]["lambda_tracing"]
        assert any(node["name"] == "## handler" for node in nodes)
    assert marker["truncated"] is True and "RuntimeError" in marker["reason"]
