"""OTLP spans -> segment documents (local/lambda_tracing_local/xray/otlp/convert.py): spans
made by the OpenTelemetry SDK and encoded by its own OTLP encoder, converted as X-Ray's
OTLP conversion does (the rows of OTLP.md), every document valid by AWS's schema."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lambda_tracing_local.xray.documents import validate
from lambda_tracing_local.xray.graph import inferred_identity, project
from lambda_tracing_local.xray.otlp.convert import convert_request, convert_span
from lambda_tracing_local.xray.otlp.fields import SpanRejected
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, Tracer

LAMBDA = {
    "service.name": "orders",
    "cloud.provider": "aws",
    "cloud.platform": "aws_lambda",
    "cloud.region": "eu-west-1",
    "cloud.account.id": "123456789012",
    "faas.name": "orders",
}


def record(
    body: Callable[[Tracer], None], resource: dict[str, Any] | None = None
) -> ExportTraceServiceRequest:
    """The OTLP request the SDK's encoder makes of the spans `body` records."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create(resource or LAMBDA))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    body(provider.get_tracer("test"))
    provider.shutdown()
    return encode_spans(memory.get_finished_spans())


def convert(
    body: Callable[[Tracer], None], resource: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    converted = convert_request(record(body, resource), time.time())
    assert converted.rejected == 0, converted.messages
    for document in converted.documents:
        validate(document)  # every document is one AWS's schema takes
    return converted.documents


def by_name(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in documents}


def only_span(request: ExportTraceServiceRequest) -> Span:
    (span,) = request.resource_spans[0].scope_spans[0].spans
    return span


def test_lambda_server_span_is_a_segment_named_and_typed_by_its_resource() -> None:
    def body(tracer: Tracer) -> None:
        with tracer.start_as_current_span("lambda_handler", kind=SpanKind.SERVER):
            pass

    (segment,) = convert(body)
    assert segment["name"] == "orders" and segment["origin"] == "AWS::Lambda::Function"
    assert segment["aws"]["account_id"] == "123456789012"
    assert segment["aws"]["xray"]["sdk"] == "opentelemetry for python"
    assert "type" not in segment and "parent_id" not in segment
    assert segment["metadata"]["default"]["otel.resource.faas.name"] == "orders"
    trace_hex = f"{segment['trace_id'][2:10]}{segment['trace_id'][11:]}"
    assert len(trace_hex) == 32 and segment["trace_id"].startswith("1-")


def test_unknown_service_name_falls_back_to_the_function_name() -> None:
    def body(tracer: Tracer) -> None:
        with tracer.start_as_current_span("handler", kind=SpanKind.SERVER):
            pass

    (segment,) = convert(body, {**LAMBDA, "service.name": "unknown_service", "faas.name": "fn"})
    assert segment["name"] == "fn"
    (other,) = convert(
        body, {"service.name": "web", "cloud.provider": "gcp", "cloud.platform": "gcp_cloud_run"}
    )
    assert other["name"] == "web" and "origin" not in other


def test_any_w3c_trace_id_is_shown_as_an_xray_id_and_zero_ids_are_rejected() -> None:
    request = record(lambda t: t.start_span("x", kind=SpanKind.SERVER).end())
    span = only_span(request)
    span.trace_id = bytes.fromhex("ffffffff0123456789abcdef01234567")
    document = convert_span(span, LAMBDA, time.time())
    assert document["trace_id"] == "1-ffffffff-0123456789abcdef01234567"
    span.trace_id = bytes(16)
    with pytest.raises(SpanRejected, match="trace id"):
        convert_span(span, LAMBDA, time.time())
    span.trace_id, span.span_id = b"\x01" * 16, b"\x01" * 7
    with pytest.raises(SpanRejected, match="span id"):
        convert_span(span, LAMBDA, time.time())


def call_span(
    attributes: dict[str, Any], kind: SpanKind = SpanKind.CLIENT, status: StatusCode | None = None
) -> dict[str, Any]:
    """The subsegment made of one call inside a server span."""

    def body(tracer: Tracer) -> None:
        with (
            tracer.start_as_current_span("handler", kind=SpanKind.SERVER),
            tracer.start_as_current_span("call", kind=kind, attributes=attributes) as s,
        ):
            if status is not None:
                s.set_status(Status(status))

    segment, subsegment = sorted(convert(body), key=lambda d: "type" in d)
    assert subsegment["type"] == "subsegment" and subsegment["parent_id"] == segment["id"]
    assert subsegment["trace_id"] == segment["trace_id"]
    return subsegment


def test_http_client_span_is_a_remote_subsegment_with_its_http_block() -> None:
    subsegment = call_span(
        {
            "http.request.method": "GET",
            "url.full": "https://api.example.com/v1/pay?x=1",
            "server.address": "api.example.com",
            "http.response.status_code": 503,
        }
    )
    assert subsegment["name"] == "api.example.com" and subsegment["namespace"] == "remote"
    assert subsegment["http"] == {
        "request": {"method": "GET", "url": "https://api.example.com/v1/pay?x=1"},
        "response": {"status": 503},
    }
    assert subsegment["fault"] is True and "error" not in subsegment
    assert inferred_identity(subsegment) == ("api.example.com", "remote")


def test_old_semantic_conventions_give_the_same_http_block() -> None:
    subsegment = call_span(
        {"http.method": "POST", "http.url": "http://inventory:8080/items", "http.status_code": 201}
    )
    assert subsegment["name"] == "inventory"
    assert subsegment["http"]["request"] == {"method": "POST", "url": "http://inventory:8080/items"}


@pytest.mark.parametrize(
    ("status", "code", "flags"),
    [
        (404, None, {"error": True}),
        (429, None, {"error": True, "throttle": True}),
        (500, StatusCode.ERROR, {"fault": True}),
        (200, StatusCode.ERROR, {"fault": True}),  # an ERROR status outside 4xx/5xx is a fault
        (None, StatusCode.ERROR, {"fault": True}),
        (302, None, {}),
    ],
)
def test_status_and_http_status_give_error_throttle_fault(
    status: int | None, code: StatusCode | None, flags: dict[str, bool]
) -> None:
    attributes = {"http.response.status_code": status} if status else {}
    subsegment = call_span(attributes, status=code)
    assert {k: subsegment[k] for k in ("error", "throttle", "fault") if k in subsegment} == flags


def test_dynamodb_call_is_an_aws_node_named_by_its_table() -> None:
    subsegment = call_span(
        {
            "rpc.system": "aws-api",
            "rpc.service": "DynamoDB",
            "rpc.method": "GetItem",
            "aws.dynamodb.table_names": ["orders"],
            "aws.request_id": "R1",
        }
    )
    assert (subsegment["name"], subsegment["namespace"]) == ("DynamoDB", "aws")
    assert subsegment["aws"] == {
        "operation": "GetItem",
        "region": "eu-west-1",
        "request_id": "R1",
        "table_name": "orders",
    }
    assert inferred_identity(subsegment) == ("orders", "AWS::DynamoDB::Table")


@pytest.mark.parametrize(
    ("attributes", "identity"),
    [
        (
            {"rpc.service": "SQS", "messaging.url": "https://sqs.eu-west-1.amazonaws.com/1/jobs"},
            ("https://sqs.eu-west-1.amazonaws.com/1/jobs", "AWS::SQS::Queue"),
        ),
        (
            {"rpc.service": "SQS", "aws.queue_url": "https://sqs.eu-west-1.amazonaws.com/1/jobs"},
            ("https://sqs.eu-west-1.amazonaws.com/1/jobs", "AWS::SQS::Queue"),
        ),
        (
            {
                "rpc.service": "SQS",
                "aws.sqs.queue.url": "https://sqs.eu-west-1.amazonaws.com/1/jobs",
            },
            ("https://sqs.eu-west-1.amazonaws.com/1/jobs", "AWS::SQS::Queue"),
        ),
        (
            {"rpc.service": "Lambda", "aws.lambda.function.name": "worker"},
            ("worker", "AWS::Lambda"),
        ),
        ({"rpc.service": "S3", "aws.s3.bucket": "pictures"}, ("pictures", "AWS::S3::Bucket")),
        (
            {
                "aws.remote.service": "AWS::DynamoDB",
                "rpc.service": "DynamoDB",
                "aws.dynamodb.table_names": ["a", "b"],
            },
            ("DynamoDB", "AWS::DynamoDB"),
        ),
        (
            {"rpc.service": "SNS", "aws.sns.topic.arn": "arn:aws:sns:eu-west-1:1:t"},
            ("SNS", "AWS::SNS"),
        ),
    ],
)
def test_aws_calls_are_named_as_xray_names_them(
    attributes: dict[str, Any], identity: tuple[str, str]
) -> None:
    subsegment = call_span(
        {"rpc.system": "aws-api", "rpc.method": "Op", **attributes}, kind=SpanKind.PRODUCER
    )
    assert subsegment["namespace"] == "aws"
    assert inferred_identity(subsegment) == identity


def test_sns_topic_and_several_tables_stay_in_the_aws_block() -> None:
    sns = call_span(
        {
            "rpc.system": "aws-api",
            "rpc.service": "SNS",
            "aws.sns.topic.arn": "arn:aws:sns:eu-west-1:1:t",
        }
    )
    assert sns["aws"]["topic_arn"] == "arn:aws:sns:eu-west-1:1:t"
    tables = call_span(
        {"rpc.system": "aws-api", "rpc.service": "DynamoDB", "aws.dynamodb.table_names": ["a", "b"]}
    )
    assert tables["aws"]["resource_names"] == ["a", "b"]


def test_sql_client_span_is_a_database_node() -> None:
    subsegment = call_span(
        {
            "db.system": "postgresql",
            "db.name": "shop",
            "server.address": "db.internal",
            "db.user": "app",
            "db.statement": "SELECT 1",
        }
    )
    assert subsegment["name"] == "shop@db.internal" and subsegment["namespace"] == "remote"
    assert subsegment["sql"]["database_type"] == "postgresql"
    assert subsegment["sql"]["sanitized_query"] == "SELECT 1"
    assert inferred_identity(subsegment) == ("shop@db.internal", "Database::SQL")
    redis = call_span({"db.system": "redis", "server.address": "cache"})
    assert "sql" not in redis and inferred_identity(redis) == ("cache", "remote")


def test_internal_span_is_a_local_subsegment() -> None:
    subsegment = call_span({"order.id": "42"}, kind=SpanKind.INTERNAL)
    assert subsegment["name"] == "call" and "namespace" not in subsegment
    assert subsegment["metadata"] == {"default": {"order.id": "42"}}
    assert inferred_identity(subsegment) is None


def test_consumer_span_with_a_parent_is_a_segment() -> None:
    def body(tracer: Tracer) -> None:
        with (
            tracer.start_as_current_span("send", kind=SpanKind.PRODUCER),
            tracer.start_as_current_span("receive", kind=SpanKind.CONSUMER),
        ):
            pass

    consumer = [d for d in convert(body) if d.get("parent_id") and "type" not in d]
    assert len(consumer) == 1 and consumer[0]["name"] == "orders"


def test_exception_events_become_the_cause_with_the_python_stack() -> None:
    def failing() -> None:
        raise ValueError("no such order")

    def body(tracer: Tracer) -> None:
        with tracer.start_as_current_span("handler", kind=SpanKind.SERVER) as span:
            try:
                failing()
            except ValueError as error:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR))
            with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT) as call:
                call.record_exception(TimeoutError("slow"))

    documents = convert(body)
    segment = next(d for d in documents if "type" not in d)
    (exception,) = segment["cause"]["exceptions"]
    assert (exception["type"], exception["message"]) == ("ValueError", "no such order")
    assert [f["label"] for f in exception["stack"][:2]] == ["failing", "body"]
    assert exception["stack"][0]["path"] == __file__ and len(exception["id"]) == 16
    assert segment["fault"] is True
    call = next(d for d in documents if "type" in d)
    assert call["cause"]["exceptions"][0]["remote"] is True
    assert "fault" not in call  # an exception alone leaves the outcome to the status


def test_error_status_message_without_an_exception_is_the_cause() -> None:
    subsegment = call_span({}, status=None)
    assert "cause" not in subsegment

    def body(tracer: Tracer) -> None:
        with tracer.start_as_current_span("h", kind=SpanKind.SERVER) as span:
            span.set_status(Status(StatusCode.ERROR, "quota exceeded"))

    (segment,) = convert(body)
    assert segment["cause"]["exceptions"][0]["message"] == "quota exceeded"


def test_links_annotations_metadata_and_user() -> None:
    def body(tracer: Tracer) -> None:
        with tracer.start_as_current_span("producer", kind=SpanKind.SERVER) as first:
            context = first.get_span_context()
        attributes = {
            "aws.xray.annotations": ["order.id", "paid"],
            "order.id": "42",
            "paid": True,
            "basket": [1, 2],
            "ratio": math.nan,
            "aws.xray.metadata.shop": '{"tier": "gold"}',
            "enduser.id": "ann",
        }
        with tracer.start_as_current_span(
            "consumer",
            kind=SpanKind.SERVER,
            links=[Link(context, {"why": "batch"})],
            attributes=attributes,
        ):
            pass

    documents = convert(body)
    first, second = documents
    assert second["links"] == [
        {"trace_id": first["trace_id"], "id": first["id"], "attributes": {"why": "batch"}}
    ]
    assert project(second)[7] == [[first["trace_id"], first["id"]]]
    assert second["annotations"] == {"order_id": "42", "paid": True}
    assert second["metadata"]["default"]["basket"] == [1, 2]
    assert second["metadata"]["default"]["ratio"] == "nan"  # JSON has no NaN
    assert second["metadata"]["shop"] == {"tier": "gold"}
    assert second["user"] == "ann"


def test_a_local_root_client_span_is_a_service_segment_with_the_call_inside() -> None:
    def body(tracer: Tracer) -> None:
        with tracer.start_as_current_span(
            "GET",
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": "GET",
                "url.full": "http://svc:81/a",
                "http.response.status_code": 200,
            },
        ):
            pass

    (segment,) = convert(body, {"service.name": "script"})
    (call,) = segment["subsegments"]
    assert segment["name"] == "script" and "http" not in segment
    assert (call["name"], call["namespace"], call["http"]["response"]["status"]) == (
        "svc",
        "remote",
        200,
    )
    span_id = only_span(record(body, {"service.name": "script"})).span_id.hex()
    assert len(call["id"]) == 16 and segment["id"] != call["id"]
    assert span_id != segment["id"]  # a fresh id for the service; the call keeps the span's


def test_names_lose_what_the_schema_forbids() -> None:
    def body(tracer: Tracer) -> None:
        with tracer.start_as_current_span("h", kind=SpanKind.SERVER):
            tracer.start_span("GET /orders/{id}?<x>", kind=SpanKind.INTERNAL).end()
            tracer.start_span("()", kind=SpanKind.INTERNAL).end()

    names = {d["name"] for d in convert(body) if "type" in d}
    assert names == {"GET /orders/idx", "span"}


def span_at(start: float, end: float) -> Span:
    span = only_span(record(lambda t: t.start_span("x", kind=SpanKind.SERVER).end()))
    span.start_time_unix_nano, span.end_time_unix_nano = int(start * 1e9), int(end * 1e9)
    return span


@pytest.mark.parametrize(
    ("start", "end", "reason"),
    [
        (-15 * 86400, -15 * 86400 + 1, "14 days"),
        (0, 3 * 3600, "2 hours"),
        (0, -1, "ends before"),
    ],
)
def test_xray_time_limits(start: float, end: float, reason: str) -> None:
    now = time.time()
    with pytest.raises(SpanRejected, match=reason):
        convert_span(span_at(now + start, now + end), LAMBDA, now)
    convert_span(span_at(now - 13 * 86400, now + 3600), LAMBDA, now)  # inside both limits


def test_a_span_over_200_kb_is_rejected_and_the_others_kept() -> None:
    def body(tracer: Tracer) -> None:
        with tracer.start_as_current_span("h", kind=SpanKind.SERVER):
            tracer.start_span("big", attributes={"blob": "x" * 210_000}).end()

    converted = convert_request(record(body), time.time())
    assert converted.rejected == 1 and len(converted.documents) == 1
    assert "200 KB" in converted.messages[0] and converted.messages[0].startswith("otlp: span")


values = st.one_of(
    st.text(max_size=30),
    st.integers(-(2**63), 2**63 - 1),
    st.booleans(),
    st.floats(),
    st.lists(st.text(max_size=5), max_size=3),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.text(max_size=60),
    kind=st.sampled_from(list(SpanKind)),
    attributes=st.dictionaries(
        st.one_of(
            st.sampled_from(
                [
                    "rpc.system",
                    "rpc.service",
                    "http.response.status_code",
                    "db.system",
                    "url.full",
                    "peer.service",
                    "aws.dynamodb.table_names",
                    "http.status_code",
                    "aws.xray.annotations",
                    "server.address",
                ]
            ),
            st.text(min_size=1, max_size=20),
        ),
        st.one_of(values, st.just("aws-api"), st.just("mysql")),
        max_size=6,
    ),
    resource=st.dictionaries(
        st.sampled_from(["service.name", "cloud.platform", "faas.name", "cloud.provider"]),
        st.text(max_size=20),
    ),
    status=st.sampled_from(list(StatusCode)),
    exception=st.booleans(),
)
def test_any_span_converts_to_a_valid_document_or_a_clear_rejection(
    name: str,
    kind: SpanKind,
    attributes: dict[str, Any],
    resource: dict[str, Any],
    status: StatusCode,
    exception: bool,
) -> None:
    def body(tracer: Tracer) -> None:
        with (
            tracer.start_as_current_span("parent", kind=SpanKind.SERVER),
            tracer.start_as_current_span(name, kind=kind, attributes=attributes) as span,
        ):
            span.set_status(Status(status))
            if exception:
                span.record_exception(RuntimeError(name))

    converted = convert_request(record(body, resource), time.time())
    assert converted.rejected == 0, converted.messages
    for document in converted.documents:
        validate(document)
        project(document)


def test_adot_remote_resource_attributes_name_the_table() -> None:
    subsegment = call_span(
        {
            "rpc.system": "aws-api",
            "aws.remote.service": "AWS::DynamoDB",
            "aws.remote.resource.type": "AWS::DynamoDB::Table",
            "aws.remote.resource.identifier": "carts",
        }
    )
    assert inferred_identity(subsegment) == ("carts", "AWS::DynamoDB::Table")
    assert "aws.remote.resource.identifier" not in subsegment.get("metadata", {}).get("default", {})


def test_a_chained_python_exception_is_an_entry_per_exception() -> None:
    def lookup() -> None:
        raise KeyError("order 42")

    def handle() -> None:
        try:
            lookup()
        except KeyError as error:
            raise RuntimeError("could not load the order") from error

    def body(tracer: Tracer) -> None:
        with tracer.start_as_current_span("handler", kind=SpanKind.SERVER) as span:
            try:
                handle()
            except RuntimeError as error:
                span.record_exception(error)

    (segment,) = convert(body)
    outer, inner = segment["cause"]["exceptions"]
    assert (outer["type"], outer["cause"]) == ("RuntimeError", inner["id"])
    assert (inner["type"], inner["message"]) == ("KeyError", "'order 42'")
    assert [f["label"] for f in outer["stack"][:2]] == ["handle", "body"]
    assert [f["label"] for f in inner["stack"]] == ["lookup", "handle"]
    assert "cause" not in inner and len({outer["id"], inner["id"]}) == 2
