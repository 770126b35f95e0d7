"""backend.entities: the lean Span must be, to the SDK's patchers and to X-Ray, the SDK's own
Subsegment (same attributes, same document), and the Facade must carry what the SDK's
FacadeSegment carries for propagation. These tests compare them with the real aws-xray-sdk
classes, so they fail if either side drifts."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from aws_xray_sdk.core.models.entity import Entity
from aws_xray_sdk.core.models.facade_segment import FacadeSegment
from aws_xray_sdk.core.models.subsegment import Subsegment
from aws_xray_sdk.core.models.trace_header import TraceHeader
from hypothesis import given, settings
from hypothesis import strategies as st
from lambda_tracing.backend.entities import make_classes
from lambda_tracing.documents import serialize

Facade, Span = make_classes()
ROOT = "1-5759e988-bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"
HEADER = f"Root={ROOT};Parent={PARENT};Sampled=1;Lineage=1:abcd1234:0"


def pair() -> tuple[Any, Any, Any, Any]:
    """(sdk facade, sdk subsegment, our facade, our span) for the same trace."""
    sdk_facade = FacadeSegment("facade", PARENT, ROOT, True)
    ours_facade = Facade(ROOT, PARENT, True, ";Lineage=1:abcd1234:0")
    sdk = Subsegment("## handler", "local", sdk_facade)
    ours = Span("## handler", "local", ours_facade)
    sdk_facade.add_subsegment(sdk)
    return sdk_facade, sdk, ours_facade, ours


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """A document with what differs by construction (random id, clock) taken out."""
    out = dict(document)
    for key in ("id", "start_time", "end_time"):
        assert key in out or key == "end_time"
        out.pop(key, None)
    out["subsegments"] = [
        {
            key: value
            for key, value in child.items()
            if key not in ("id", "parent_id", "start_time", "end_time")
        }
        for child in out.get("subsegments", [])
    ]
    for error in out.get("cause", {}).get("exceptions", []):
        error.pop("id")
    return out


def test_same_attributes_as_the_sdk_classes() -> None:
    sdk_facade, sdk, ours_facade, ours = pair()
    assert isinstance(ours, Entity)
    # What a Span keeps beside the Subsegment's attributes: its parent (the facade, or a weak
    # reference to its parent span), so the backend can tell a top-level span without a lookup.
    assert set(vars(ours)) - {"_parent"} == set(vars(sdk))
    for name in ("trace_id", "id", "sampled", "in_progress", "name"):
        assert getattr(ours_facade, name) == getattr(sdk_facade, name)
    assert ours.parent_id == sdk.parent_id == PARENT
    assert ours.trace_id == sdk.trace_id == ROOT
    assert ours.top_level and ours.top() is ours
    child = Span("child", "remote", ours)
    assert child.parent_id == ours.id and child.parent_segment is ours_facade
    assert not child.top_level and child.top() is ours


def test_a_child_holds_its_parent_span_weakly() -> None:
    """The parent holds the child (subsegments): a strong reference back would make a cycle
    only the garbage collector frees. Once the top-level span is gone (sent, and held by
    nothing), a late child counts it as sent."""
    from lambda_tracing.backend.xray import _top_sent

    _, _, facade, ours = pair()
    child = Span("child", "remote", ours)
    grandchild = Span("grandchild", "remote", child)
    assert grandchild.top() is ours and not _top_sent(grandchild)
    ours._sent = True
    assert _top_sent(grandchild)
    del ours
    assert child.top() is None and grandchild.top() is None
    assert not child.top_level and _top_sent(grandchild)
    assert child.parent_segment is facade and child.parent_id


def test_the_facade_records_nothing_like_the_sdk_dummy() -> None:
    facade = Facade(ROOT, PARENT, False, "")
    facade.put_http_meta("status", 200)
    facade.put_annotation("k", "v")
    facade.put_metadata("k", "v")
    facade.add_exception(ValueError("x"), [])
    assert not hasattr(facade, "to_dict")  # Lambda sends the function's segment, never us


def test_same_document_as_the_sdk_subsegment() -> None:
    sdk_facade, sdk, ours_facade, ours = pair()
    for span in (sdk, ours):
        span.put_annotation("ColdStart", True)
        span.put_http_meta("status", 503)
        span.put_metadata("response", {"statusCode": 503, "when": object}, "svc")
        span.put_metadata("other", [1, 2.5, None], "default")
        try:
            raise ValueError("boom")
        except ValueError as error:
            span.add_exception(error, [])
        child = (
            Span("child", "remote", span)
            if span is ours
            else Subsegment("child", "remote", span.parent_segment)
        )
        span.add_subsegment(child)
        child.close()
        span.close()
    mine, theirs = ours.to_dict(), sdk.to_dict()
    assert comparable(json.loads(serialize(mine))) == comparable(json.loads(serialize(theirs)))
    assert len(mine["subsegments"]) == 1 and mine["fault"] is True


def test_json_metadata_is_sent_as_put() -> None:
    _, _, _, ours = pair()
    copy = {"statusCode": 200, "body": "ok", "nested": {"list": [1, "a", None, True]}}
    ours.put_json_metadata("response", copy, "svc")
    ours.put_json_metadata("response_truncated", True, "svc")
    ours.close()
    document = ours.to_dict()
    assert document["metadata"] == {"svc": {"response": copy, "response_truncated": True}}
    assert "_foreign_metadata" not in document


def test_origin_header_is_parsed_when_asked_as_the_sdk_would() -> None:
    facade = Facade(ROOT, PARENT, True, ";Lineage=1:abcd1234:0;Self=1-00000000-x")
    origin = facade.get_origin_trace_header()
    sdk = TraceHeader.from_header_str(HEADER + ";Self=1-00000000-x")
    assert (origin.root, origin.parent, origin.sampled, origin.data) == (
        sdk.root,
        sdk.parent,
        sdk.sampled,
        sdk.data,
    )
    assert facade.get_origin_trace_header() is origin  # parsed once


def test_ended_span_refuses_changes_like_the_sdk() -> None:
    from aws_xray_sdk.core.exceptions.exceptions import AlreadyEndedException

    _, _, _, ours = pair()
    ours.close(123.0)
    assert ours.end_time == 123.0 and ours.in_progress is False
    with pytest.raises(AlreadyEndedException):
        ours.close()
    with pytest.raises(AlreadyEndedException):
        ours.put_json_metadata("k", 1, "svc")


def test_compact_documents_parse_back_identically() -> None:
    _, _, _, ours = pair()
    ours.put_annotation("Service", "svc")
    ours.put_json_metadata("response", {"a": [1, {"b": "é"}]}, "svc")
    ours.close()
    text = serialize(ours.to_dict())
    assert text.isascii() and ", " not in text and ": " not in text
    assert json.loads(text) == json.loads(json.dumps(ours.to_dict()))


def test_document_keeps_every_flag_and_drops_empty_values_as_the_sdk_does() -> None:
    """What == False but is not False (0, 0.0, "") is left out; False stays, as in the SDK."""
    _, sdk, _, ours = pair()
    for entity in (sdk, ours):
        entity.flag_off = False
        entity.count = 0
        entity.empty = ""
        entity.ratio = 0.0
        entity.add_error_flag()
        entity.close()
    document = ours.to_dict()
    assert comparable(document) == comparable(sdk.to_dict())
    assert document["flag_off"] is False and document["in_progress"] is False
    assert "count" not in document and "ratio" not in document and "empty" not in document
    open_document = pair()[3].to_dict()
    assert open_document["in_progress"] is True and "flag_off" not in open_document


@pytest.mark.parametrize(
    "change",
    [
        "none",
        "no metadata",
        "no annotations",
        "http",
        "fault",
        "foreign metadata",
        "child",
        "open",
        "empty namespace",
        "not sent",
    ],
)
def test_the_usual_handler_span_document_is_the_sdks(change: str) -> None:
    """A closed, sent span with annotations and captured metadata and nothing else takes
    to_dict's short way; every change of shape takes the loop: both give the SDK's document."""
    _, sdk, _, ours = pair()
    for entity in (sdk, ours):
        entity.annotations.update({"ColdStart": False, "Service": "svc", "RequestId": "r-1"})
        if change == "no metadata":  # the response not captured
            pass
        elif change != "foreign metadata":
            entity.metadata["svc"] = {"response": {"statusCode": 200}}
        else:
            entity.put_metadata("response", {"statusCode": 200}, "svc")
        if change == "no annotations":
            entity.annotations.clear()
        if change == "http":
            entity.put_http_meta("status", 200)
        if change == "fault":
            entity.add_fault_flag()
        if change != "open":
            entity.close()
        if change == "empty namespace":
            entity.namespace = ""
    if change == "child":
        ours.subsegments.append(Span("child", "local", ours))
        sdk.subsegments.append(Subsegment("child", "local", sdk.parent_segment))
    if change != "not sent":
        ours._sent = True  # as the backend marks a top-level span before sending it
    if change in ("none", "no metadata"):  # the short way (its shape is a real span's)
        from lambda_tracing.backend import span_text

        assert tuple(vars(ours)) == span_text._USUAL_KEYS
    assert comparable(ours.to_dict()) == comparable(sdk.to_dict())
    assert list(ours.to_dict()) == [key for key in vars(ours) if key in sdk.to_dict()]
    # The text the emitter sends: to_dict's document, either way.
    assert_same_document(ours.to_json(), ours.to_dict())


def assert_same_document(text: str, document: dict[str, Any]) -> None:
    """`text` is `document` as JSON, its times to the microsecond (the direct text's)."""
    sent = json.loads(text)
    assert list(sent) == list(document)
    for key in ("start_time", "end_time"):
        if isinstance(document.get(key), float):
            assert sent.pop(key) == pytest.approx(document[key], abs=1e-6)
            document = {name: value for name, value in document.items() if name != key}
    assert sent == document


@pytest.mark.parametrize(
    ("attribute", "value", "direct"),
    [
        ("name", 7, False),
        ("start_time", "1.5", False),
        ("id", b"ab", False),
        ("trace_id", None, True),  # not the usual shape: to_dict's loop leaves it out
        ("end_time", 2, True),  # an int is still a number: written as one
    ],
)
def test_a_usual_span_with_a_value_of_another_type_is_sent_as_to_dict_makes_it(
    attribute: str, value: Any, direct: bool
) -> None:
    """The direct text refuses what it cannot write as the encoder would; the emitter then
    sends what fit makes of to_dict."""
    from lambda_tracing.backend.emitter import UDPEmitter

    _, _, _, ours = pair()
    ours.annotations["Service"] = "svc"
    ours.metadata["svc"] = {"response": 1}
    ours.close()
    ours._sent = True
    setattr(ours, attribute, value)
    sent: list[bytes] = []
    emitter = UDPEmitter("127.0.0.1:2000")
    emitter.send_datagrams = sent.extend  # type: ignore[method-assign]
    if direct:
        assert_same_document(ours.to_json(), ours.to_dict())
    else:
        with pytest.raises((TypeError, ValueError)):
            ours.to_json()
    emitter.send_entity(ours)
    assert len(sent) == 1
    assert_same_document(sent[0].split(b"\n", 1)[1].decode(), json.loads(serialize(ours.to_dict())))


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("start_time", float("nan")),
        ("end_time", float("inf")),
        ("end_time", True),
        ("start_time", Decimal("1700000000.5")),
        ("end_time", 10**400),
    ],
)
def test_a_time_the_direct_text_cannot_write_goes_as_serialize_writes_it(
    attribute: str, value: Any
) -> None:
    """`%f` writes NaN and infinity as bare words, a bool as 1.000000 and a Decimal as a
    number: the direct text refuses them, and the emitter sends serialize's text."""
    from lambda_tracing.backend.emitter import UDPEmitter

    _, _, _, ours = pair()
    ours.annotations["Service"] = "svc"
    ours.close()
    ours._sent = True
    setattr(ours, attribute, value)
    with pytest.raises((ValueError, OverflowError)):
        ours.to_json()
    sent: list[bytes] = []
    emitter = UDPEmitter("127.0.0.1:2000")
    emitter.send_datagrams = sent.extend  # type: ignore[method-assign]
    emitter.send_entity(ours)
    assert sent == [b'{"format":"json","version":1}\n' + serialize(ours.to_dict()).encode()]


@pytest.mark.parametrize("captured", [True, False])
def test_the_usual_handler_span_is_sent_as_its_direct_text(
    monkeypatch: pytest.MonkeyPatch, captured: bool
) -> None:
    """The emitter's usual way makes no document dict and never reaches fit (a slip in the
    direct text would be swallowed there, sent correctly but at the general cost), with the
    response captured or not."""
    from lambda_tracing.backend import emitter as emitter_module

    _, _, _, ours = pair()
    ours.annotations.update({"ColdStart": True, "Service": "svc", "RequestId": "r-1"})
    if captured:
        ours.metadata["svc"] = {"response": {"statusCode": 200, "body": "é"}}
    # Times far apart, each exact to the microsecond: a slip between them would show.
    ours.start_time = 1_700_000_000.25
    ours.close(1_700_000_003.5)
    ours._sent = True

    def no_fit(document: Any) -> list[str]:
        raise AssertionError("the usual span went the general way")

    monkeypatch.setattr(emitter_module, "fit", no_fit)
    monkeypatch.setattr(type(ours), "to_dict", lambda self: no_fit(self))
    sent: list[bytes] = []
    emitter = emitter_module.UDPEmitter("127.0.0.1:2000")
    emitter.send_datagrams = sent.extend  # type: ignore[method-assign]
    emitter.send_entity(ours)
    header, text = sent[0].split(b"\n", 1)
    assert header == b'{"format":"json","version":1}' and text.isascii()
    monkeypatch.undo()
    assert_same_document(text.decode(), ours.to_dict())
    sent_document = json.loads(text)
    assert ("metadata" in sent_document) is captured
    assert (sent_document["start_time"], sent_document["end_time"]) == (
        1_700_000_000.25,
        1_700_000_003.5,
    )


# --- span trees written directly (span_text.tree_text) ---

_TWEAKS = ("http", "aws", "annotations", "metadata", "children")
_UNUSUAL = ("fault", "cause", "sql", "open child", "foreign metadata", "sdk child", "no name")


def _same_tree(sent: Any, document: Any) -> None:
    """`sent` (parsed text) is `document` but for times written to the microsecond."""
    if isinstance(document, dict):
        assert list(sent) == list(document)
        for key, value in document.items():
            if key in ("start_time", "end_time") and isinstance(value, float):
                assert sent[key] == pytest.approx(value, abs=1e-6)
            else:
                _same_tree(sent[key], value)
    elif isinstance(document, list):
        assert len(sent) == len(document)
        for item, expected in zip(sent, document, strict=True):
            _same_tree(item, expected)
    else:
        assert sent == document and type(sent) is type(document)


# A child: (namespace, http status or None, aws block or not, annotation or None, children)
_children = st.deferred(
    lambda: st.lists(
        st.tuples(
            st.sampled_from(["aws", "remote"]),
            st.one_of(st.none(), st.sampled_from([200, 204, 302])),
            st.booleans(),
            st.one_of(st.none(), st.integers(), st.floats(-1e9, 1e9)),
            _children,
        ),
        max_size=2,
    )
)


def _grow(parent: Any, plan: list[Any], depth: int = 0) -> list[Any]:
    """Open children under `parent` as `plan` says, as the backend makes them: every span made."""
    made = []
    for number, (namespace, status, aws, annotation, grandchildren) in enumerate(plan):
        child = Span(f"child-{depth}-{number}", namespace, parent)
        parent.subsegments.append(child)
        made.append(child)
        if status is not None:
            child.put_http_meta("status", status)
            child.put_http_meta("url", "https://example.com/a?b=\u00e9")
        if aws:
            child.set_aws({"operation": "GetItem", "region": "eu-west-1", "retries": 1})
        if annotation is not None:
            child.annotations["n"] = annotation
        made += _grow(child, grandchildren, depth + 1)
    return made


def build_tree(plan: list[Any], metadata: bool, unusual: str | None, victim: int) -> Any:
    """A closed, sent top-level span with the children of `plan` (at least one), made
    unusual in one way (`unusual`, on the victim-th span) or not at all."""
    _, _, _, top = pair()
    top.annotations.update({"ColdStart": False, "Service": "svc"})
    if metadata:
        top.metadata["svc"] = {"response": {"statusCode": 200, "body": '\u00e9\n"'}}
    spans = [top, *_grow(top, plan or [("remote", None, False, None, [])])]
    chosen = spans[victim % len(spans)]
    if unusual == "fault":
        chosen.add_fault_flag()
    elif unusual == "cause":
        chosen.add_exception(ValueError("boom"), [])
    elif unusual == "sql":
        chosen.set_sql({"url": "postgres://db"})
    elif unusual == "foreign metadata":
        chosen.put_metadata("key", {"a": Decimal("1.5")}, "ns")
    elif unusual == "sdk child":
        sdk = Subsegment("sdk", "remote", FacadeSegment("facade", PARENT, ROOT, True))
        sdk.in_progress, sdk.end_time = False, sdk.start_time + 0.25
        top.subsegments.append(sdk)
    elif unusual == "no name":
        chosen.name = ""
    for span in reversed(spans[1:]):  # the deepest first, as they end
        if not (unusual == "open child" and span is spans[-1]):
            span.close(top.start_time + 0.25)
    top.close(top.start_time + 5.0)
    top._sent = True
    return top


@settings(max_examples=150, deadline=None)
@given(
    _children,
    st.booleans(),
    st.one_of(st.none(), st.sampled_from(_UNUSUAL)),
    st.integers(0, 50),
)
def test_a_span_tree_is_sent_as_to_dict_makes_it(
    plan: list[Any], metadata: bool, unusual: str | None, victim: int
) -> None:
    """Trees of the shapes the layer makes are written directly (a traced call's span is one
    such child); any other shape goes through to_dict. The text is to_dict's either way."""
    from lambda_tracing.backend.span_text import tree_text

    top = build_tree(plan, metadata, unusual, victim)
    text = top.to_json()
    _same_tree(json.loads(text), json.loads(serialize(top.to_dict())))
    if unusual is None:
        assert text == tree_text(vars(top))  # the direct way was taken
    else:
        with pytest.raises((TypeError, ValueError)):
            tree_text(vars(top))


@pytest.mark.parametrize("field", ["http", "annotations", "metadata", "aws", "cause", "sql"])
def test_a_field_set_to_false_is_sent_as_to_dict_keeps_it(field: str) -> None:
    """to_dict keeps a False value (`"sql": false`); the direct text would drop it, so such
    a tree goes through to_dict."""
    from lambda_tracing.backend.span_text import tree_text

    top = build_tree([("aws", None, True, None, [])], False, None, 0)
    child = top.subsegments[0]
    setattr(child, field, False)
    with pytest.raises(ValueError):
        tree_text(vars(top))
    _same_tree(json.loads(top.to_json()), json.loads(serialize(top.to_dict())))
    assert json.loads(top.to_json())["subsegments"][0][field] is False


def test_the_closed_span_fields_are_in_the_order_their_readers_unpack() -> None:
    """span_text.tree_text and otlp_calls.CallSpans unpack _read_node's tuple by position."""
    from lambda_tracing.backend import span_text

    assert span_text._NODE_KEYS == (
        "id",
        "name",
        "start_time",
        "parent_id",
        "in_progress",
        "http",
        "annotations",
        "metadata",
        "aws",
        "cause",
        "subsegments",
        "trace_id",
        "type",
        "namespace",
        "sql",
        "end_time",
    )
