"""Trace headers parsed and rendered with aws-xray-sdk's TraceHeader (propagation.header)."""

from __future__ import annotations

from typing import Any

from aws_xray_sdk.core.models.dummy_entities import DummySegment, DummySubsegment
from aws_xray_sdk.core.models.segment import Segment
from aws_xray_sdk.core.models.subsegment import Subsegment
from aws_xray_sdk.core.models.trace_header import TraceHeader
from hypothesis import given, settings
from hypothesis import strategies as st
from lambda_tracing.propagation import header

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"


def test_parse_keeps_unknown_keys_and_the_sampling_decision() -> None:
    parsed = header.parse(f"Root={ROOT};Parent={PARENT};Sampled=0;Lineage=a87bd80c:1")
    assert parsed is not None
    assert (parsed.root, parsed.parent, parsed.sampled) == (ROOT, PARENT, 0)
    assert parsed.data == {"Lineage": "a87bd80c:1"}
    assert header.render(parsed) == f"Root={ROOT};Parent={PARENT};Sampled=0;Lineage=a87bd80c:1"


def test_parse_tolerates_spaces_trailing_semicolons_and_albs_self() -> None:
    parsed = header.parse(f" Root={ROOT}; Parent={PARENT} ;Sampled=1;Self=1-67891234-abc;")
    assert parsed is not None
    assert (parsed.root, parsed.parent, parsed.sampled, parsed.data) == (ROOT, PARENT, 1, {})


def test_parse_without_parent_keeps_the_root() -> None:
    parsed = header.parse(f"Root={ROOT}")
    assert parsed is not None and parsed.parent is None and parsed.sampled is None


def test_malformed_headers_are_no_header() -> None:
    for value in (
        None,
        "",
        42,
        "garbage",
        "Root=;Parent=;Sampled=1",
        f"Root=2-{ROOT[2:]};Parent={PARENT}",
        "Root=1-00000000-000000000000000000000000;Parent=53995c3f42cd8ad8",  # the SDK's no-op id
        f"Root={ROOT};Parent={PARENT};" + "x" * 2000,
    ):
        assert header.parse(value) is None, value
    bad_parent = header.parse(f"Root={ROOT};Parent=nothex;Sampled=7")
    assert bad_parent is not None and bad_parent.parent is None and bad_parent.sampled is None


def test_render_drops_extra_keys_last_first_to_fit_256_characters() -> None:
    data = {"Lineage": "a87bd80c:1", "Big": "x" * 150, "Bigger": "y" * 150}
    rendered = header.render(TraceHeader(ROOT, PARENT, 1, data))
    assert len(rendered) <= header.MAX_HEADER_LENGTH
    assert rendered == f"Root={ROOT};Parent={PARENT};Sampled=1;Lineage=a87bd80c:1;Big={'x' * 150}"


@given(st.dictionaries(st.text("abcXYZ", min_size=1, max_size=8), st.text("0123:", max_size=300)))
def test_rendered_headers_always_fit_and_keep_the_trace(data: dict[str, str]) -> None:
    rendered = header.render(TraceHeader(ROOT, PARENT, 1, data))
    assert len(rendered) <= header.MAX_HEADER_LENGTH
    assert rendered.startswith(f"Root={ROOT};Parent={PARENT};Sampled=1")


@given(st.text(max_size=400))
def test_parse_never_raises(value: str) -> None:
    parsed = header.parse(value)
    assert parsed is None or parsed.root is not None


def facade(sampled: bool, origin: str | None = None) -> Any:
    segment = Segment("facade", entityid=PARENT, traceid=ROOT, sampled=sampled)
    if origin:
        segment.save_origin_trace_header(TraceHeader.from_header_str(origin))
    return segment


def test_a_sampled_subsegment_is_the_parent_and_lineage_travels_on() -> None:
    segment = facade(True, f"Root={ROOT};Parent={PARENT};Sampled=1;Lineage=a87bd80c:1")
    child = Subsegment("sqs", "aws", segment)
    outbound = header.for_entity(child)
    assert outbound is not None
    assert header.render(outbound) == f"Root={ROOT};Parent={child.id};Sampled=1;Lineage=a87bd80c:1"


def test_unsampled_calls_send_sampled_0_with_the_segment_as_parent() -> None:
    segment = facade(False)
    dummy = DummySubsegment(segment, "sqs")
    outbound = header.for_entity(dummy)
    assert outbound is not None
    assert header.render(outbound) == f"Root={ROOT};Parent={PARENT};Sampled=0"


def test_no_trace_means_no_header() -> None:
    assert header.for_entity(None) is None
    assert header.for_entity(DummySegment()) is None  # no _X_AMZN_TRACE_ID: the SDK's no-op ids


def test_traceparent_carries_the_same_trace_and_parent() -> None:
    sampled = TraceHeader(ROOT, PARENT, 1)
    assert header.to_traceparent(sampled) == f"00-5759e988bd862e3fe1be46a994272793-{PARENT}-01"
    unsampled = TraceHeader(ROOT, PARENT, 0)
    assert header.to_traceparent(unsampled) == f"00-5759e988bd862e3fe1be46a994272793-{PARENT}-00"
    assert header.to_traceparent(TraceHeader(ROOT, None, 1)) is None


def test_traceparent_for_entity_is_to_traceparent_of_for_entity() -> None:
    """The direct writer gives what the TraceHeader way gives, for every kind of entity."""
    from lambda_tracing.backend.entities import make_classes

    layer_facade_class, span_class = make_classes()
    layer_facade = layer_facade_class(ROOT, PARENT, True, ";Lineage=a87bd80c:1")
    layer_span = span_class("call", "remote", layer_facade)
    unsampled_facade = layer_facade_class(ROOT, PARENT, False, "")
    upper = span_class("call", "remote", layer_facade_class(ROOT.upper(), PARENT, True, ""))
    sampled_segment = facade(True, f"Root={ROOT};Parent={PARENT};Sampled=1")
    entities: list[Any] = [
        None,
        layer_span,
        layer_facade,
        unsampled_facade,
        upper,
        Subsegment("sqs", "aws", sampled_segment),
        DummySubsegment(facade(False), "sqs"),
        DummySegment(),  # the SDK's no-op ids
        facade(True),
    ]
    for entity in entities:
        by_header = header.for_entity(entity)
        expected = header.to_traceparent(by_header) if by_header is not None else None
        assert header.traceparent_for_entity(entity) == expected, entity
    assert header.traceparent_for_entity(layer_span) == (
        f"00-5759e988bd862e3fe1be46a994272793-{layer_span.id}-01"
    )
    assert header.traceparent_for_entity(unsampled_facade) == (
        f"00-5759e988bd862e3fe1be46a994272793-{PARENT}-00"
    )


tails = st.lists(
    st.tuples(st.sampled_from(["Lineage", "Self", "Foo", "x"]), st.text("abc:019", max_size=80)),
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(st.booleans(), tails, st.booleans())
def test_text_for_entity_is_the_rendered_header(
    sampled: bool, fields: list[tuple[str, str]], on_span: bool
) -> None:
    """The fast path writes exactly what TraceHeader would, for facades and spans alike."""
    from lambda_tracing.backend.entities import Facade, make_classes

    tail = "".join(f";{key}={value}" for key, value in fields)
    facade = Facade(ROOT, PARENT, sampled, tail)
    entity = make_classes()[1]("call", "remote", facade) if on_span and sampled else facade
    expected = header.render(header.for_entity(entity))
    assert header.text_for_entity(entity) == expected
    assert len(expected) <= header.MAX_HEADER_LENGTH
