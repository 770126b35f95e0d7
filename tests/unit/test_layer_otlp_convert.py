"""backend/otlp: segment-document nodes become OTel spans (semantic conventions, X-Ray's
`aws.xray.*` keys), packed into requests that fit one datagram each, nothing lost unmarked."""

from __future__ import annotations

import base64
import json
import logging
import socket
from typing import Any

import pytest
from lambda_tracing import config
from lambda_tracing.backend import otlp
from lambda_tracing.backend.entities import make_classes
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

TRACE = "1-5759e988-bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"


def node(name: str, ident: str, parent: str = PARENT, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "id": ident,
        "trace_id": TRACE,
        "parent_id": parent,
        "type": "subsegment",
        "start_time": 1700000000.25,
        "end_time": 1700000000.5,
        **extra,
    }


def decode(entries: list[bytes]) -> list[Any]:
    frame = otlp.enc.RequestFrame([], "t", "1")
    return list(
        ExportTraceServiceRequest.FromString(frame.request(entries))
        .resource_spans[0]
        .scope_spans[0]
        .spans
    )


def attrs(span: Any) -> dict[str, Any]:
    out = {}
    for kv in span.attributes:
        kind = kv.value.WhichOneof("value")
        value = getattr(kv.value, kind)
        out[kv.key] = (
            [getattr(v, v.WhichOneof("value")) for v in value.values]
            if kind == "array_value"
            else value
        )
    return out


def handler_tree() -> dict[str, Any]:
    dynamodb = node(
        "DynamoDB",
        "b" * 16,
        "a" * 16,
        namespace="aws",
        aws={
            "operation": "GetItem",
            "region": "eu-west-1",
            "table_name": "orders",
            "request_id": "REQ",
            "retries": 0,
        },
        http={"response": {"status": 200}},
    )
    remote = node(
        "api.example.com",
        "c" * 16,
        "a" * 16,
        namespace="remote",
        fault=True,
        http={
            "request": {"method": "GET", "url": "https://api.example.com/x?q=1"},
            "response": {"status": 503},
        },
    )
    custom = node(
        "## work",
        "d" * 16,
        "a" * 16,
        error=True,
        cause={
            "working_directory": "/var/task",
            "exceptions": [
                {
                    "id": "e" * 16,
                    "type": "ValueError",
                    "message": "bad input",
                    "stack": [{"path": "app.py", "line": 7, "label": "handler"}],
                }
            ],
        },
    )
    return node(
        "## handler",
        "a" * 16,
        namespace="local",
        annotations={"ColdStart": True, "Service": "orders", "RequestId": "r-1"},
        metadata={
            "orders": {"response": {"ok": True}},
            "lambda_tracing": {
                "links": [
                    {
                        "source": "sqs",
                        "trace_id": "1-5759e988-00000000000000000000000a",
                        "parent_id": "0000000000000001",
                        "sampled": 1,
                    },
                    {"source": "s3", "record_id": "key"},
                ]
            },
        },
        subsegments=[dynamodb, remote, custom],
    )


def test_the_handler_is_a_server_span_under_the_header_parent() -> None:
    converter = otlp.SpanConverter(60000)
    spans = decode(list(converter.entries(handler_tree(), handler=True, remote_parent=True)))
    handler, dynamodb, remote, custom = spans
    assert handler.kind == Span.SPAN_KIND_SERVER
    assert handler.trace_id.hex() == "5759e988bd862e3fe1be46a994272793"
    assert handler.parent_span_id.hex() == PARENT
    assert handler.flags == 0x301  # sampled, parent known to be remote
    assert handler.start_time_unix_nano == 1700000000_250000000
    assert handler.end_time_unix_nano == 1700000000_500000000
    values = attrs(handler)
    assert values["faas.invocation_id"] == "r-1" and values["faas.coldstart"] is True
    assert values["Service"] == "orders"
    assert values["aws.xray.annotations"] == ["ColdStart", "Service", "RequestId"]
    assert json.loads(values["aws.xray.metadata.orders"]) == {"response": {"ok": True}}
    ((link),) = handler.links  # the S3 link names no trace: not a span link
    assert link.trace_id.hex() == "5759e98800000000000000000000000a"
    assert link.span_id.hex() == "0000000000000001"
    for child in (dynamodb, remote, custom):
        assert child.parent_span_id == handler.span_id
        assert child.trace_id == handler.trace_id
        assert child.flags == 0x101


def test_calls_are_client_spans_with_otel_attributes() -> None:
    converter = otlp.SpanConverter(60000)
    _, dynamodb, remote, custom = decode(list(converter.entries(handler_tree(), True, True)))
    assert dynamodb.kind == Span.SPAN_KIND_CLIENT
    assert dynamodb.name == "DynamoDB.GetItem"
    assert attrs(dynamodb) == {
        "rpc.system": "aws-api",
        "rpc.service": "DynamoDB",
        "rpc.method": "GetItem",
        "aws.region": "eu-west-1",
        "aws.dynamodb.table_names": ["orders"],
        "aws.request_id": "REQ",
        "aws.retries": 0,
        "http.response.status_code": 200,
    }
    assert dynamodb.status.code == Status.STATUS_CODE_UNSET
    assert remote.kind == Span.SPAN_KIND_CLIENT
    assert remote.name == "GET"
    assert attrs(remote) == {
        "http.request.method": "GET",
        "url.full": "https://api.example.com/x?q=1",
        "server.address": "api.example.com",
        "http.response.status_code": 503,
    }
    assert remote.status.code == Status.STATUS_CODE_ERROR
    assert custom.kind == Span.SPAN_KIND_INTERNAL
    assert custom.status.code == Status.STATUS_CODE_ERROR
    assert custom.status.message == "bad input"
    ((event),) = custom.events
    assert event.name == "exception"
    assert event.time_unix_nano == custom.end_time_unix_nano
    exception = attrs(event)
    assert exception["exception.type"] == "ValueError"
    assert exception["exception.message"] == "bad input"
    assert 'File "app.py", line 7, in handler' in exception["exception.stacktrace"]


def test_many_spans_are_split_into_whole_requests_under_the_limit() -> None:
    children = [
        node(f"## part {i}", f"{i + 1:016x}", "a" * 16, metadata={"default": {"blob": "x" * 900}})
        for i in range(300)
    ]
    tree = node("## handler", "a" * 16, annotations={"ColdStart": False}, subsegments=children)
    frame = otlp.enc.RequestFrame(otlp.resource_attributes("svc", {}), "lambda_tracing", "1")
    converter = otlp.SpanConverter(otlp.REQUEST_LIMIT - frame.overhead)
    requests = list(otlp.pack(list(converter.entries(tree, True, True)), frame))
    assert len(requests) > 1
    assert all(len(request) <= otlp.REQUEST_LIMIT for request in requests)
    ids = [
        span.span_id.hex()
        for request in requests
        for span in ExportTraceServiceRequest.FromString(request)
        .resource_spans[0]
        .scope_spans[0]
        .spans
    ]
    assert ids == ["a" * 16] + [f"{i + 1:016x}" for i in range(300)]


def test_an_oversize_span_is_cut_down_and_marked() -> None:
    converter = otlp.SpanConverter(20000)
    big = node(
        "## handler",
        "a" * 16,
        annotations={"note": "y" * 30000},
        metadata={"default": {"blob": "x" * 50000}},
    )
    ((entry),) = list(converter.entries(big, True, True))
    assert len(entry) <= 20000
    ((span),) = decode([entry])
    values = attrs(span)
    marker = json.loads(values["aws.xray.metadata.lambda_tracing"])
    assert marker["truncated"] is True
    assert values["note"].startswith("y" * 1024) and "truncated" in values["note"]


def test_the_emitter_sends_one_framed_datagram_per_invocation() -> None:
    """Real spans of the layer's entity model, read in place, with a recorded exception."""
    facade_class, span_class = make_classes()
    facade = facade_class(TRACE, PARENT, True, "")
    handler = span_class("## handler", "local", facade)
    handler.annotations.update({"ColdStart": True, "Service": "orders"})
    handler.put_json_metadata("response", {"ok": True}, "orders")
    call = span_class("dynamodb", "aws", handler)
    call.aws.update({"operation": "PutItem", "table_name": "orders"})
    handler.add_subsegment(call)
    failing = span_class("## work", "local", handler)
    handler.add_subsegment(failing)
    try:
        raise ValueError("bad input")
    except ValueError as error:
        failing.add_exception(error, [])
    for span in (call, failing, handler):
        span.close()
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    try:
        port = receiver.getsockname()[1]
        settings = config.load({}, daemon_address=f"127.0.0.1:{port}", exporter="otlp")
        otlp.OTLPEmitter(settings).send_entity(handler)
        data = receiver.recv(70000)
    finally:
        receiver.close()
    header, body = data.split(b"\n", 1)
    assert json.loads(header) == {"format": "json", "version": 1}
    assert body[:3] == b"T1S"
    request = ExportTraceServiceRequest.FromString(base64.b64decode(body[3:], validate=True))
    server, client, internal = request.resource_spans[0].scope_spans[0].spans
    assert (server.kind, client.kind, internal.kind) == (
        Span.SPAN_KIND_SERVER,
        Span.SPAN_KIND_CLIENT,
        Span.SPAN_KIND_INTERNAL,
    )
    assert server.parent_span_id.hex() == PARENT and server.span_id.hex() == handler.id
    assert json.loads(attrs(server)["aws.xray.metadata.orders"]) == {"response": {"ok": True}}
    assert client.name == "DynamoDB.PutItem" and client.parent_span_id == server.span_id
    assert attrs(client)["aws.dynamodb.table_names"] == ["orders"]
    assert internal.status.code == Status.STATUS_CODE_ERROR
    assert attrs(internal.events[0])["exception.message"] == "bad input"
    resource = attrs(request.resource_spans[0].resource)
    assert resource["cloud.platform"] == "aws_lambda"
    assert resource["service.name"] == settings.service


def test_a_failing_entity_is_logged_not_raised(caplog: Any) -> None:
    settings = config.load({}, daemon_address="127.0.0.1:9", exporter="otlp")

    class Broken:
        def __init__(self) -> None:
            self.trace_id = TRACE
            self.id = "not hex: boom"

    with caplog.at_level(logging.DEBUG, logger="lambda_tracing"):
        otlp.OTLPEmitter(settings).send_entity(Broken())
    assert any("sending OTLP spans" in record.getMessage() for record in caplog.records)


def test_the_exporter_setting() -> None:
    assert config.load({}).exporter == "xray"
    assert config.load({"LAMBDA_TRACING_EXPORTER": " OTLP "}).exporter == "otlp"
    assert config.load({"LAMBDA_TRACING_EXPORTER": "zipkin"}).exporter == "xray"


def test_aws_resources_are_named_as_otel_writes_them_and_x_ray_reads_them() -> None:
    """The queue, topic, function and bucket of a call, under the names OTel's botocore
    instrumentation (and ADOT) write, come back through the local X-Ray's OTLP conversion as
    the aws block the X-Ray SDK writes: what names the AWS::SQS::Queue node and the others."""
    # Local mode is not installed beside the layer's tests on Lambda's Pythons.
    convert_span = pytest.importorskip("lambda_tracing_local.xray.otlp.convert").convert_span

    queue = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders"
    topic = "arn:aws:sns:eu-west-1:123456789012:payments"
    calls = {
        "SQS": ({"operation": "SendMessage", "queue_url": queue}, "aws.queue_url", queue),
        "SNS": ({"operation": "Publish", "topic_arn": topic}, "aws.sns.topic.arn", topic),
        "Lambda": (
            {"operation": "Invoke", "function_name": "worker"},
            "faas.invoked_name",
            "worker",
        ),
        "S3": ({"operation": "PutObject", "bucket_name": "reports"}, "aws.s3.bucket", "reports"),
    }
    tree = node(
        "## handler",
        "a" * 16,
        namespace="local",
        subsegments=[
            node(service, f"{index + 1:016x}", "a" * 16, namespace="aws", aws=aws)
            for index, (service, (aws, _, _)) in enumerate(calls.items())
        ],
    )
    _, *spans = decode(list(otlp.SpanConverter(60000).entries(tree, True, True)))
    for span, (service, (aws, attribute, value)) in zip(spans, calls.items(), strict=True):
        assert attrs(span)[attribute] == value
        document = convert_span(span, {}, now=1700000100.0)
        assert document["namespace"] == "aws" and document["name"] == service
        assert document["aws"] == aws
