"""backend/otlp_encode: the hand-written OTLP protobuf encoder, checked against the official
decoder (opentelemetry-proto) on generated spans, field by field."""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from lambda_tracing.backend import otlp_encode as enc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

INT64 = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)  # surrogates: below
SCALARS = st.one_of(TEXT, st.booleans(), INT64, st.floats(allow_nan=False), st.binary(max_size=20))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)
PAIRS = st.lists(st.tuples(TEXT, VALUES), max_size=6)
TIMES = st.integers(min_value=0, max_value=(1 << 64) - 1)


def decoded(value: AnyValue) -> Any:
    """An AnyValue as the Python value it was encoded from."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [decoded(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {item.key: decoded(item.value) for item in value.kvlist_value.values}
    return getattr(value, kind)


def expected(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode()
    if isinstance(value, tuple | list):
        return [expected(item) for item in value]
    if isinstance(value, dict):
        return {expected(key): expected(item) for key, item in value.items()}
    return value


def same(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float):
        return left == right or (math.isnan(left) and math.isnan(right))
    return bool(left == right)


@given(VALUES)
def test_any_value_decodes_to_what_was_encoded(value: Any) -> None:
    message = AnyValue.FromString(enc.any_value(value))
    assert same(decoded(message), expected(value))


def test_out_of_range_integers_and_other_objects_become_strings() -> None:
    assert AnyValue.FromString(enc.any_value(1 << 70)).string_value == str(1 << 70)
    assert AnyValue.FromString(enc.any_value(None)).string_value == "None"
    assert AnyValue.FromString(enc.any_value("\ud800x")).string_value == "?x"


SPANS = st.fixed_dictionaries(
    {
        "trace_id": st.binary(min_size=16, max_size=16),
        "span_id": st.binary(min_size=8, max_size=8),
        "parent": st.one_of(st.none(), st.binary(min_size=8, max_size=8)),
        "name": TEXT,
        "kind": st.integers(min_value=0, max_value=5),
        "start": TIMES,
        "end": TIMES,
        "attributes": PAIRS,
        "events": st.lists(st.tuples(TIMES, TEXT, PAIRS), max_size=3),
        "links": st.lists(
            st.tuples(
                st.binary(min_size=16, max_size=16),
                st.binary(min_size=8, max_size=8),
                PAIRS,
                st.integers(min_value=0, max_value=(1 << 32) - 1),
            ),
            max_size=2,
        ),
        "status": st.integers(min_value=0, max_value=2),
        "message": TEXT,
        "flags": st.integers(min_value=0, max_value=(1 << 32) - 1),
    }
)


@settings(max_examples=60, deadline=None)
@given(st.lists(SPANS, min_size=1, max_size=4), PAIRS, TEXT, TEXT)
def test_requests_decode_with_opentelemetry_proto(
    spans: list[dict[str, Any]],
    resource: list[tuple[str, Any]],
    scope_name: str,
    scope_version: str,
) -> None:
    frame = enc.RequestFrame(resource, scope_name, scope_version)
    entries = [
        enc.span_entry(
            enc.span(
                s["trace_id"],
                s["span_id"],
                s["parent"],
                s["name"],
                s["kind"],
                s["start"],
                s["end"],
                enc.attributes(s["attributes"], b"\x4a"),
                [enc.event(*event) for event in s["events"]],
                [enc.link(*item) for item in s["links"]],
                s["status"],
                s["message"],
                s["flags"],
            )
        )
        for s in spans
    ]
    payload = frame.request(entries)
    assert len(payload) <= frame.overhead + sum(map(len, entries))
    assert frame.base64_request(entries) == binascii.b2a_base64(payload, newline=False)

    request = ExportTraceServiceRequest.FromString(payload)
    (resource_spans,) = request.resource_spans
    assert _all_same(resource_spans.resource.attributes, resource)
    (scope_spans,) = resource_spans.scope_spans
    assert scope_spans.scope.name == expected(scope_name)
    assert scope_spans.scope.version == expected(scope_version)
    assert len(scope_spans.spans) == len(spans)
    for got, want in zip(scope_spans.spans, spans, strict=True):
        assert got.trace_id == want["trace_id"]
        assert got.span_id == want["span_id"]
        assert got.parent_span_id == (want["parent"] or b"")
        assert got.name == expected(want["name"])
        assert got.kind == want["kind"]
        assert (got.start_time_unix_nano, got.end_time_unix_nano) == (want["start"], want["end"])
        assert _all_same(got.attributes, want["attributes"])
        assert len(got.events) == len(want["events"])
        for event, (time_ns, name, pairs) in zip(got.events, want["events"], strict=True):
            assert (event.time_unix_nano, event.name) == (time_ns, expected(name))
            assert _all_same(event.attributes, pairs)
        for link, (trace_id, span_id, pairs, flags) in zip(got.links, want["links"], strict=True):
            assert (link.trace_id, link.span_id, link.flags) == (trace_id, span_id, flags)
            assert _all_same(link.attributes, pairs)
        assert got.status.code == want["status"]
        assert got.status.message == expected(want["message"])
        assert got.flags == want["flags"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.text(max_size=8), st.text(max_size=300)), max_size=4),
    st.lists(st.integers(min_value=0, max_value=20000), min_size=1, max_size=3),
)
def test_the_base64_of_a_request_reuses_the_resources(
    resource: list[tuple[str, str]], sizes: list[int]
) -> None:
    """Requests of every length-prefix size (one, two, three bytes), resources of every length
    modulo 3: base64_request is the request's base64, and the request decodes."""
    frame = enc.RequestFrame(resource, "lambda_tracing", "1")
    entries = [enc.span_entry(b"\x2a" + enc.varint(size) + b"n" * size) for size in sizes]
    encoded = frame.base64_request(entries)
    assert encoded == binascii.b2a_base64(frame.request(entries), newline=False)
    request = ExportTraceServiceRequest.FromString(base64.b64decode(encoded, validate=True))
    spans = request.resource_spans[0].scope_spans[0].spans
    assert [len(span.name) for span in spans] == sizes


def _all_same(decoded_pairs: Any, pairs: list[tuple[str, Any]]) -> bool:
    got = [(kv.key, decoded(kv.value)) for kv in decoded_pairs]
    want = [(expected(key), expected(value)) for key, value in pairs]
    return len(got) == len(want) and all(
        gk == wk and _deep_same(gv, wv) for (gk, gv), (wk, wv) in zip(got, want, strict=True)
    )


def _deep_same(left: Any, right: Any) -> bool:
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_deep_same, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_deep_same(left[k], right[k]) for k in left)
    return same(left, right)
