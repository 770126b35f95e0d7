"""backend/otlp_calls: a traced AWS call's span, mostly pre-encoded, is the same bytes as the
general way (otlp.SpanConverter) writes for it: on generated calls (hypothesis), one pre-encoding
meeting the next; in a tree, decoded with
opentelemetry-proto; and every other shape is left to the general way. (Real botocore calls
in OTLP mode, through the built layer: tests/functional/test_layer_otlp.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lambda_tracing.backend import otlp, otlp_calls
from lambda_tracing.backend.entities import make_classes
from opentelemetry.proto.trace.v1.trace_pb2 import ScopeSpans
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

Facade, Span = make_classes()
TRACE = "1-5759e988-bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"
CALLS = otlp_calls.CallSpans()  # one for the module: what one example keeps meets the next

AWS_KEYS = st.sampled_from(
    ["operation", "region", "request_id", "table_name", "queue_url", "retries", "topic_arn", "x"]
)
AWS_VALUES = st.one_of(
    st.text(max_size=20),  # surrogates included: written as the general way writes them
    st.sampled_from(["GetItem", "us-east-1", "orders", "", "r-1"]),
    st.integers(-(1 << 70), 1 << 70),
    st.booleans(),
    st.none(),
    st.just({"nested": 1}),
    st.floats(allow_nan=False),
)
HTTP = st.one_of(
    st.just({}),
    st.builds(lambda status: {"response": {"status": status}}, st.integers(100, 599)),
    st.just({"response": {"status": 200, "content_length": 12}}),
    st.just({"request": {"method": "GET"}}),
)
NAMES = st.one_of(st.sampled_from(["dynamodb", "sqs", "sns", "s3", "unknown-service"]), st.text())


def call_span(
    parent: Any, name: str, aws: dict[str, Any], http: dict[str, Any], namespace: str = "aws"
) -> Any:
    """A closed child span as the botocore patch leaves one."""
    span = Span(name, namespace, parent)
    span.aws.update(aws)
    span.http.update(http)
    span.close(span.start_time + 0.0123)
    return span


def handler_span() -> Any:
    return Span("## handler", "local", Facade(TRACE, PARENT, True, ""))


def general(node: dict[str, Any], remote_parent: bool) -> bytes:
    return otlp.SpanConverter(10**9).entry(node, False, remote_parent)


def usual(aws: dict[str, Any]) -> bool:
    """The aws blocks CallSpans takes: str and int values only (not bool: as a key, True == 1)."""
    return all(type(value) in (str, int) for value in aws.values())


@settings(max_examples=400, deadline=None)
@given(NAMES, st.dictionaries(AWS_KEYS, AWS_VALUES, max_size=6), HTTP, st.booleans())
def test_the_same_bytes_as_the_general_way(
    name: str, aws: dict[str, Any], http: dict[str, Any], remote_parent: bool
) -> None:
    span = call_span(handler_span(), name, aws, http)
    node = vars(span)
    for request_id in ("1", "req-\u00e9-2"):  # the second from what the first kept
        if "request_id" in aws and type(aws["request_id"]) is str and aws["request_id"]:
            span.aws["request_id"] = request_id
        entry = CALLS.entry(node, remote_parent)
        if entry is not None:
            assert entry == general(node, remote_parent)
    taken = CALLS.entry(node, remote_parent) is not None
    simple_http = not http or (list(http) == ["response"] and list(http["response"]) == ["status"])
    assert taken == (usual(aws) and simple_http)


REQUEST_VALUES = st.one_of(
    st.none(),
    st.sampled_from(["GET", "", "https://example.com/a?b=1", "agent/1"]),
    st.text(max_size=12),
    st.integers(),
)
REMOTE_HTTP = st.fixed_dictionaries(
    {},
    optional={
        "request": st.fixed_dictionaries(
            {},
            optional={
                field: REQUEST_VALUES for field in ("method", "url", "user_agent", "client_ip", "x")
            },
        ),
        "response": st.fixed_dictionaries(
            {},
            optional={
                "status": st.one_of(st.integers(100, 599), st.booleans(), st.just("200")),
                "content_length": st.integers(0, 100),
            },
        ),
    },
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["example.com", "127.0.0.1:8080", ""]), REMOTE_HTTP, st.booleans())
def test_an_http_call_the_same_bytes_as_the_general_way(
    name: str, http: dict[str, Any], remote_parent: bool
) -> None:
    span = call_span(handler_span(), name or "host", {}, http, namespace="remote")
    node = vars(span)
    for _ in range(2):  # the second from what the first kept
        entry = CALLS.entry(node, remote_parent)
        if entry is not None:
            assert entry == general(node, remote_parent)
    request, response = http.get("request", {}), http.get("response", {})
    fields_ok = all(
        request.get(field) is None or type(request.get(field)) is str
        for field in ("method", "url", "user_agent", "client_ip")
    )
    status_ok = response.get("status") is None or type(response["status"]) is int
    assert (CALLS.entry(node, remote_parent) is not None) == (fields_ok and status_ok)


@pytest.mark.parametrize(
    "change",
    ["local namespace", "fault", "cause", "annotation", "metadata", "child", "open", "int time"],
)
def test_other_shapes_go_the_general_way(change: str) -> None:
    parent = handler_span()
    span = call_span(parent, "dynamodb", {"operation": "GetItem", "request_id": "r"}, {})
    assert CALLS.entry(vars(span), False) is not None
    if change == "local namespace":
        span.namespace = "local"
    elif change == "fault":
        span.fault = True
    elif change == "cause":
        span.cause = "0123456789abcdef"
    elif change == "annotation":
        span.annotations["n"] = 1
    elif change == "metadata":
        span.metadata["ns"] = {"k": 1}
    elif change == "child":
        span.subsegments.append(call_span(span, "s3", {}, {}))
    elif change == "open":
        span.in_progress = True
    elif change == "int time":
        span.end_time = int(span.end_time)
    assert CALLS.entry(vars(span), False) is None


def test_calls_in_a_tree_decode_as_the_general_ways() -> None:
    """A handler span above two calls as aws-xray-sdk's botocore processor leaves them (the
    same call site, two request ids) and one HTTP call: the calls' entries come from
    CallSpans, the tree's entries are the general way's, and they decode as client spans."""
    root = handler_span()
    root.annotations.update({"ColdStart": False, "RequestId": "inv-1"})
    for request_id in ("r-1", "r-2"):
        aws = {"operation": "GetItem", "region": "eu-west-1", "request_id": request_id}
        aws["table_name"] = "orders"
        root.subsegments.append(call_span(root, "dynamodb", aws, {"response": {"status": 200}}))
    root.subsegments.append(
        call_span(root, "example.com", {}, {"request": {"method": "GET"}}, namespace="remote")
    )
    root.close(root.start_time + 0.5)
    converter = otlp.SpanConverter(10**9)
    flat = otlp.FlatSpans(otlp._links)
    calls = otlp_calls.CallSpans()
    taken = [calls.entry(vars(child), False) is not None for child in root.subsegments]
    entries = list(converter.entries(root, True, True, flat, calls))
    assert taken == [True, True, True]
    assert entries == list(converter.entries(root, True, True))
    spans = ScopeSpans.FromString(b"".join(entries)).spans  # entries are ScopeSpans.spans fields
    assert [span.name for span in spans] == [
        "## handler",
        "DynamoDB.GetItem",
        "DynamoDB.GetItem",
        "GET",
    ]
    for span, request_id in zip(spans[1:3], ("r-1", "r-2"), strict=True):
        attributes = {a.key: a.value for a in span.attributes}
        assert span.kind == ProtoSpan.SPAN_KIND_CLIENT
        assert attributes["rpc.system"].string_value == "aws-api"
        assert attributes["rpc.method"].string_value == "GetItem"
        assert attributes["aws.request_id"].string_value == request_id
        assert attributes["http.response.status_code"].int_value == 200
        assert attributes["aws.dynamodb.table_names"].array_value.values[0].string_value == "orders"
        assert span.parent_span_id.hex() == root.id


def test_per_call_fields_share_their_call_sites_shape() -> None:
    """S3's id_2 and object key, a message id, the request id: encoded per call, so a call
    site keeps one shape however many calls it makes."""
    calls = otlp_calls.CallSpans()
    parent = handler_span()
    for number in range(300):
        aws = {"operation": "PutObject", "region": "eu-west-1", "request_id": f"r-{number}"}
        aws.update(
            {"id_2": f"id2-{number}" * (number % 3), "bucket_name": "b", "key": f"k/{number}"}
        )
        span = call_span(parent, "s3", aws, {"response": {"status": 200}})
        assert calls.entry(vars(span), False) == general(vars(span), False)
    assert len(calls._shapes) == 1


def test_a_full_cache_leaves_new_shapes_to_the_general_way() -> None:
    calls = otlp_calls.CallSpans()
    parent = handler_span()
    for number in range(otlp_calls._CACHE_LIMIT):
        site = call_span(parent, "sqs", {"operation": "SendMessage", "queue_url": f"q{number}"}, {})
        assert calls.entry(vars(site), False) is not None
    late = call_span(parent, "dynamodb", {"operation": "GetItem", "table_name": "t"}, {})
    assert calls.entry(vars(late), False) is None
    kept = call_span(parent, "sqs", {"operation": "SendMessage", "queue_url": "q0"}, {})
    assert calls.entry(vars(kept), False) == general(vars(kept), False)


def test_keys_that_compare_equal_never_share_a_shape() -> None:
    """True == 1 == 1.0 as dict keys, but the general way names them aws.True, aws.1."""
    calls = otlp_calls.CallSpans()
    parent = handler_span()
    for key in (True, 1, 1.0, False, 0):
        span = call_span(parent, "dynamodb", {key: "x"}, {})  # type: ignore[dict-item]
        entry = calls.entry(vars(span), False)
        assert entry is None or entry == general(vars(span), False)
