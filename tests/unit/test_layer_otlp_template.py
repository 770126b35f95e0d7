"""backend/otlp_template: the mostly pre-encoded span writes exactly the bytes the general way
(otlp.SpanConverter) writes for the same span, so the spans opentelemetry-proto decodes are the
same: on generated spans (hypothesis), and on the layer's own spans through the emitter for a
cold invocation, a warm one, an error, a split batch."""

from __future__ import annotations

import base64
import json
import math
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict
from hypothesis import given, settings
from hypothesis import strategies as st
from lambda_tracing import config, documents
from lambda_tracing.backend import otlp, otlp_datagrams, otlp_template
from lambda_tracing.backend.entities import make_classes
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

TRACE = "1-5759e988-bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"
HEX16 = st.text("0123456789abcdef", min_size=16, max_size=16)
TEXT = st.text(max_size=30)  # surrogates included: written as the general way writes them
NUMBERS = st.one_of(
    st.booleans(), st.integers(-(1 << 70), 1 << 70), st.floats(allow_nan=False), st.just(-0.0)
)
# Keys that collide on purpose: the same key with True, 1 and 1.0 must not share an encoding.
KEYS = st.sampled_from(["ColdStart", "RequestId", "Service", "FunctionVersion", "n", "ok"])
ANNOTATIONS = st.dictionaries(st.one_of(KEYS, TEXT), st.one_of(TEXT, NUMBERS), max_size=6)
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=8,
)
METADATA = st.dictionaries(
    st.one_of(st.sampled_from(["orders", "lambda_tracing"]), TEXT),
    st.dictionaries(st.one_of(st.just("response"), TEXT), JSON, max_size=2),
    max_size=2,
)
LINKS = st.lists(
    st.fixed_dictionaries(
        {
            "source": st.sampled_from(["sqs", "sns"]),
            "trace_id": st.just("1-5759e988-00000000000000000000000a"),
            "parent_id": HEX16,
            "sampled": st.sampled_from([0, 1]),
        }
    ),
    max_size=2,
)
TIMES = st.one_of(st.floats(1e9, 2e9), st.integers(1_000_000_000, 2_000_000_000))
NODES = st.fixed_dictionaries(
    {
        "name": st.one_of(st.just("## handler"), TEXT),
        "id": HEX16,
        "trace_id": st.one_of(st.just(TRACE), st.just("1-00000000-000000000000000000000001")),
        "parent_id": st.one_of(st.just(PARENT), HEX16, st.just("")),
        "type": st.just("subsegment"),
        "namespace": st.sampled_from(["local", "orders", "remote", "aws"]),
        "start_time": TIMES,
        "end_time": st.one_of(st.none(), TIMES),
        "annotations": ANNOTATIONS,
        "metadata": METADATA,
        "http": st.one_of(
            st.just({}),
            st.builds(lambda status: {"response": {"status": status}}, st.integers(100, 599)),
            st.just({"request": {"method": "GET"}}),
        ),
        "aws": st.one_of(st.just({}), st.just({"operation": "GetItem"})),
        "fault": st.booleans(),
        "error": st.booleans(),
        "throttle": st.booleans(),
        "subsegments": st.just([]),
    }
)


def general(node: dict[str, Any], handler: bool, remote_parent: bool) -> bytes:
    return otlp.SpanConverter(10**9).entry(node, handler, remote_parent)


# One for the whole module: what one example leaves in its caches meets the next examples.
FLAT = otlp_template.FlatSpans(otlp._links)


@settings(max_examples=400, deadline=None)
@given(NODES, LINKS, st.booleans(), st.booleans())
def test_the_same_bytes_as_the_general_way(
    node: dict[str, Any], links: list[dict[str, Any]], handler: bool, remote_parent: bool
) -> None:
    if links:
        node["metadata"]["lambda_tracing"] = {"links": links}
    for _ in range(2):  # the second time from what the first kept
        entry = FLAT.entry(node, handler, remote_parent)
        if entry is not None:
            assert entry == general(node, handler, remote_parent)
    covered = not node["aws"] and node["namespace"] not in ("aws", "remote")
    covered = covered and set(node["http"]) <= {"response"}
    assert (FLAT.entry(node, handler, remote_parent) is not None) == covered


@settings(max_examples=200, deadline=None)
@given(NODES, st.lists(NODES, max_size=3), st.booleans(), st.booleans())
def test_a_tree_has_the_same_entries_with_flat_spans_as_the_general_way(
    root_node: dict[str, Any], child_nodes: list[dict[str, Any]], handler: bool, remote: bool
) -> None:
    """An invocation with children: FlatSpans makes the entries of the spans it covers, the
    parent's included; the bytes are the general way's, node by node."""
    facade = _Facade(TRACE, PARENT, True, "")
    root = _Span("root", "local", facade)
    vars(root).update(root_node)
    children = []
    for node in child_nodes:
        child = _Span("child", "local", root)
        vars(child).update(node)
        children.append(child)
    root.subsegments = children
    converter = otlp.SpanConverter(10**9)
    with_flat = list(converter.entries(root, handler, remote, FLAT))
    assert with_flat == list(converter.entries(root, handler, remote))
    assert len(with_flat) == 1 + len(children)


def test_a_custom_span_and_its_handler_take_flat_spans(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler span above a custom span: neither goes the general way's encode, and the
    spans decode as the general way's."""
    emitter = emitter_to(listener, {})
    span = invocation("r-7", cold=False, parts=1)
    want = expected(span)
    general_entries: list[Any] = []
    original = otlp.SpanConverter.entry

    def counted(self: Any, node: Any, *args: Any) -> bytes:
        general_entries.append(node)
        return original(self, node, *args)

    monkeypatch.setattr(otlp.SpanConverter, "entry", counted)
    assert sent(emitter, listener, span) == want
    assert general_entries == []


@given(JSON)
def test_serialize_writes_what_the_json_module_writes(value: Any) -> None:
    # the C encoder called directly must write JSONEncoder's text, for any value at the top
    reference = json.JSONEncoder(default=str, separators=(",", ":"))
    assert documents.serialize(value) == reference.encode(value)
    assert documents.serialize({"v": value}) == reference.encode({"v": value})


def test_what_it_leaves_to_the_general_way() -> None:
    facade_class, span_class = make_classes()
    facade = facade_class(TRACE, PARENT, True, "")
    span, foreign = (span_class("## handler", "local", facade) for _ in range(2))
    foreign.put_metadata("key", object())  # by other code: needs the SDK's conversion
    span.close()
    foreign.close()
    flat = otlp_template.FlatSpans(otlp._links)
    assert flat.entry(vars(span), True, True) is not None
    assert flat.entry(vars(foreign), True, True) is None
    changes: list[dict[str, Any]] = [
        {"subsegments": [{"id": "b" * 16}]},
        {"cause": {"exceptions": []}},
        {"name": 7},
        {"id": "a" * 8},
        {"parent_id": "1234 5678 9abcde"},  # what fromhex would read as 7 bytes
        {"trace_id": "1-5759e988-bd86"},
        {"annotations": {"RequestId": 42}},
    ]
    for change in changes:
        node = {**vars(span), **change}
        entry = flat.entry(node, True, True)
        if "annotations" in change:  # covered, through otlp_encode's general attributes
            assert entry == general(node, True, True)
        else:
            assert entry is None, change


# --- the layer's own spans, through the emitter, decoded ---

_Facade, _Span = make_classes()


def invocation(
    request_id: str,
    cold: bool,
    fail: bool = False,
    parts: int = 0,
    status: int | None = None,
    blob: str = "",
) -> Any:
    """The handler span as invocation.py leaves it (annotations, captured response)."""
    facade = _Facade(TRACE, PARENT, True, ";Lineage=1:abcd1234:0")
    handler = _Span("## handler", "local", facade)
    handler.annotations.update(
        {"ColdStart": cold, "Service": "orders", "FunctionVersion": "$LATEST"}
    )
    handler.annotations["RequestId"] = request_id
    for index in range(parts):
        part = _Span(f"part {index}", "local", handler)
        part.annotations["index"] = index
        part.put_json_metadata("blob", "x" * 900, "default")
        handler.add_subsegment(part)
        part.close()
    if fail:
        try:
            raise ValueError("failed on purpose")
        except ValueError as error:
            handler.add_exception(error, [])
    else:
        handler.put_json_metadata("response", {"statusCode": 200, "body": "ok"}, "orders")
    if status is not None:
        handler.put_http_meta("status", status)
    if blob:
        handler.put_json_metadata("blob", blob, "orders")
    handler.close()
    return handler


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    yield receiver
    receiver.close()


def emitter_to(listener: socket.socket, environ: dict[str, str]) -> otlp.OTLPEmitter:
    address = f"127.0.0.1:{listener.getsockname()[1]}"
    return otlp.OTLPEmitter(config.load(environ, daemon_address=address, exporter="otlp"))


def sent(emitter: otlp.OTLPEmitter, listener: socket.socket, span: Any) -> list[dict[str, Any]]:
    """The spans of every datagram `span` made, decoded, in order."""
    emitter.send_entity(span)
    datagrams = [listener.recv(70000)]
    listener.settimeout(0.2)
    try:
        while True:
            datagrams.append(listener.recv(70000))
    except TimeoutError:
        pass
    finally:
        listener.settimeout(5)
    spans = []
    for datagram in datagrams:
        header, body = datagram.split(b"\n", 1)
        assert json.loads(header) == {"format": "json", "version": 1} and body[:3] == b"T1S"
        request = ExportTraceServiceRequest.FromString(base64.b64decode(body[3:], validate=True))
        spans += [MessageToDict(span) for span in request.resource_spans[0].scope_spans[0].spans]
    return spans


def expected(span: Any) -> list[dict[str, Any]]:
    """The general way's spans for the same entity, decoded."""
    converter = otlp.SpanConverter(10**9)
    entries = list(converter.entries(span, handler=True, remote_parent=True))
    frame = otlp.enc.RequestFrame([], "t", "1")
    request = ExportTraceServiceRequest.FromString(frame.request(entries))
    return [MessageToDict(span) for span in request.resource_spans[0].scope_spans[0].spans]


def attribute(span: dict[str, Any], key: str) -> Any:
    (value,) = [item["value"] for item in span.get("attributes", ()) if item["key"] == key]
    return next(iter(value.values()))


def test_cold_warm_error_and_split_invocations_decode_as_before(
    listener: socket.socket,
) -> None:
    emitter = emitter_to(listener, {"AWS_LAMBDA_FUNCTION_NAME": "orders"})
    cold = invocation("r-1", cold=True)
    warm = invocation("r-2", cold=False)
    (cold_span,) = sent(emitter, listener, cold)
    (warm_span,) = sent(emitter, listener, warm)
    assert [cold_span] == expected(cold) and [warm_span] == expected(warm)
    assert attribute(cold_span, "faas.coldstart") is True
    assert attribute(warm_span, "faas.coldstart") is False
    assert attribute(warm_span, "faas.invocation_id") == "r-2"
    assert attribute(warm_span, "RequestId") == "r-2"
    assert warm_span["kind"] == Span.SpanKind.Name(Span.SPAN_KIND_SERVER)
    assert base64.b64decode(warm_span["parentSpanId"]).hex() == PARENT
    assert json.loads(attribute(warm_span, "aws.xray.metadata.orders")) == {
        "response": {"statusCode": 200, "body": "ok"}
    }
    assert "status" not in warm_span

    # A 5xx response: a fault with no exception, still the pre-encoded way.
    faulty = invocation("r-3", cold=False, status=502)
    assert emitter._flat.entry(vars(faulty), True, True) is not None
    (faulty_span,) = sent(emitter, listener, faulty)
    assert [faulty_span] == expected(faulty)
    assert faulty_span["status"]["code"] == Status.StatusCode.Name(Status.STATUS_CODE_ERROR)
    assert int(attribute(faulty_span, "http.response.status_code")) == 502

    # A recorded exception: the general way, through the same emitter.
    failed = invocation("r-4", cold=False, fail=True)
    (failed_span,) = sent(emitter, listener, failed)
    assert [failed_span] == expected(failed)
    assert failed_span["events"][0]["name"] == "exception"
    assert failed_span["status"]["message"] == "failed on purpose"

    # Too many spans for one datagram: whole spans split over several, in order.
    split = invocation("r-5", cold=False, parts=120)
    spans = sent(emitter, listener, split)
    assert spans == expected(split) and len(spans) == 121
    assert base64.b64decode(spans[0]["spanId"]).hex() == split.id


def test_an_oversize_handler_span_is_cut_down_the_general_way(listener: socket.socket) -> None:
    emitter = emitter_to(listener, {})
    span = invocation("r-1", cold=False, blob="x" * 70000)
    (decoded,) = sent(emitter, listener, span)
    marker = json.loads(attribute(decoded, "aws.xray.metadata.lambda_tracing"))
    assert marker["truncated"] is True


def test_a_failing_pre_encoding_falls_back_to_the_general_way(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    emitter = emitter_to(listener, {})

    def broken(*args: Any) -> bytes:
        raise ValueError("pre-encoding broke")

    monkeypatch.setattr(emitter._flat, "entry", broken)
    span = invocation("r-9", cold=False)
    (decoded,) = sent(emitter, listener, span)
    assert [decoded] == expected(span)
    assert "encoding the usual OTLP span failed" in caplog.text


def test_times_are_the_general_ways_nanoseconds() -> None:
    node = {**vars(invocation("r", cold=False)), "start_time": 1700000000.123456789}
    node["end_time"] = math.nextafter(node["start_time"], 2e9)
    entry = otlp_template.FlatSpans(otlp._links).entry(node, True, True)
    assert entry == general(node, True, True)


# --- whole datagrams of the usual handler span (HandlerDatagrams' skeletons) ---

FRAME = otlp.enc.RequestFrame([("service.name", "orders"), ("faas.max_memory", 1 << 29)], "t", "1")
HANDLERS = otlp_datagrams.HandlerDatagrams(FLAT, FRAME, otlp.FRAMING)


def general_datagram(node: dict[str, Any]) -> bytes:
    return FRAME.datagram(otlp.FRAMING, general(node, True, True))


@settings(max_examples=300, deadline=None)
@given(NODES, LINKS)
def test_any_handler_span_gives_the_general_ways_datagram_or_none(
    node: dict[str, Any], links: list[dict[str, Any]]
) -> None:
    if links:
        node["metadata"]["lambda_tracing"] = {"links": links}
    for flag in ("fault", "error", "throttle"):
        if not node[flag]:  # as on a span: absent unless set (then the skeletons' shape)
            del node[flag]
    for _ in range(2):  # the second time from what the first kept
        datagram = HANDLERS.datagram(node)
        if datagram is not None:
            assert datagram == general_datagram(node)
    assert (HANDLERS.datagram(node) is None) == (FLAT.entry(node, True, True) is None)
    # The last shape's check (`usual`), on a top-level span's attributes: that datagram or none.
    segment = object()
    fast = HANDLERS.usual({**node, "cause": {}, "_parent": segment, "parent_segment": segment})
    assert fast is None or fast == general_datagram(node)


USUAL = st.fixed_dictionaries(
    {
        "name": st.one_of(st.just("## handler"), TEXT),
        "namespace": st.sampled_from(["local", "orders"]),
        "cold": st.booleans(),
        "others": st.dictionaries(
            TEXT.filter(lambda key: key not in ("ColdStart", "RequestId")), TEXT, max_size=3
        ),
        "request_ids": st.lists(TEXT, min_size=1, max_size=3),
        "space": st.one_of(st.just("orders"), TEXT),
        "responses": st.lists(JSON, min_size=1, max_size=3),
    }
)


@settings(max_examples=300, deadline=None)
@given(USUAL, st.lists(HEX16, min_size=6, max_size=6), st.lists(TIMES, min_size=6, max_size=6))
def test_the_usual_handler_span_from_its_skeleton(
    usual: dict[str, Any], ids: list[str], times: list[Any]
) -> None:
    """Invocation after invocation of one shape: new ids, times, request ids, responses; every
    datagram the general way's, and once the shape is known, from its skeleton (a new
    HandlerDatagrams: the shared one's caches fill up over the examples, and keep no more)."""
    handlers = otlp_datagrams.HandlerDatagrams(
        otlp_template.FlatSpans(otlp._links), FRAME, otlp.FRAMING
    )
    segment = object()  # Lambda's facade: the span is a top-level one
    for index, (request_id, response) in enumerate(
        zip(usual["request_ids"] * 3, usual["responses"] * 3, strict=False)
    ):
        annotations = {"ColdStart": usual["cold"], **usual["others"], "RequestId": request_id}
        start = times[index % 6]
        node = {
            "name": usual["name"],
            "id": ids[index % 6],
            "trace_id": f"1-5759e988-{ids[(index + 1) % 6]}{ids[(index + 2) % 6][:8]}",
            "parent_id": ids[(index + 3) % 6],
            "type": "subsegment",
            "namespace": usual["namespace"],
            "start_time": start,
            "end_time": start + 0.25 if isinstance(start, float) else start,
            "annotations": annotations,
            "metadata": {usual["space"]: {"response": response}},
            "http": {},
            "aws": {},
            "cause": {},
            "subsegments": [],
            "_parent": segment,
            "parent_segment": segment,
        }
        fast = handlers.usual(node)  # from the last shape's skeleton, or none
        assert fast is None or fast == general_datagram(node)
        assert handlers.datagram(node) == general_datagram(node)
    ascii_id = all(request_id.isascii() for request_id in usual["request_ids"])
    if ascii_id and usual["space"] != "lambda_tracing":
        assert handlers.usual(node) == general_datagram(node)  # the shape datagram() saw last
        key = (
            usual["name"],
            usual["namespace"],
            tuple({"ColdStart": usual["cold"], **usual["others"]}.items()),
            usual["space"],
            len(usual["request_ids"][-1].encode()),
            len(documents.serialize({"response": usual["responses"][-1]}).encode()),
        )
        assert key in handlers._skeletons  # learnt, and kept: it gave the same bytes


def test_a_request_frames_datagram_is_its_requests_base64_for_every_length() -> None:
    frame = otlp.enc.RequestFrame([("service.name", "s" * 40)], "t", "1")
    for size in (1, 2, 3, 100, 126, 127, 128, 129, 16000, 16383, 16384, 20000):
        for fill in (b"a", b"b"):  # the second from the kept prefix
            spans = otlp.enc.span_entry(b"\x2a" + otlp.enc.varint(size) + fill * size)
            want = otlp.FRAMING + base64.b64encode(frame.request([spans]))
            assert frame.datagram(otlp.FRAMING, spans) == want


def test_links_never_come_from_a_skeleton() -> None:
    """The links namespace's JSON says less than the span links it makes: after a span whose
    links namespace holds no links, one whose JSON has the same length but holds a link still
    gets its span link (the general way's bytes), never the first one's skeleton."""
    handlers = otlp_datagrams.HandlerDatagrams(
        otlp_template.FlatSpans(otlp._links), FRAME, otlp.FRAMING
    )
    link = {"source": "sqs", "trace_id": TRACE, "parent_id": "00000000000000aa", "sampled": 1}
    padding = len(documents.serialize({"links": [link]})) - len(documents.serialize({"pad": ""}))
    for index, section in enumerate(({"pad": "x" * padding}, {"links": [link]})):
        node = {
            **vars(invocation(f"r-{index}", cold=False)),
            "metadata": {"lambda_tracing": section},
        }
        datagram = handlers.datagram(node)
        assert datagram is not None and datagram == general_datagram(node)
        request = ExportTraceServiceRequest.FromString(base64.b64decode(datagram[33:]))
        (decoded,) = request.resource_spans[0].scope_spans[0].spans
        assert [item.span_id.hex() for item in decoded.links] == ["00000000000000aa"] * index
    assert not handlers._skeletons


class _Encodes:
    """A request id that is not a str but has `encode`."""

    def encode(self) -> bytes:
        return b"r-9"

    def __str__(self) -> str:
        return "r-9"


def test_the_last_shapes_check_takes_nothing_else() -> None:
    """`usual` answers only for a top-level handler span of the shape datagram() last used,
    with no flag, the same annotations in the same order (ColdStart the same bool, not 1 or
    1.0), a request id that is a str: anything else is None, and then datagram() gives the
    general way's bytes."""
    handlers = otlp_datagrams.HandlerDatagrams(
        otlp_template.FlatSpans(otlp._links), FRAME, otlp.FRAMING
    )
    first = vars(invocation("r-0", cold=False))
    assert handlers.usual(first) is None  # nothing seen yet
    assert handlers.datagram(first) == general_datagram(first)
    usual = vars(invocation("r-1", cold=False))
    assert handlers.usual(usual) == general_datagram(usual)

    def changed(**changes: Any) -> dict[str, Any]:
        return {**vars(invocation("r-2", cold=False)), **changes}

    annotations = dict(usual["annotations"])
    reordered = {"Service": annotations.pop("Service"), **annotations}
    unusual = [
        changed(annotations={**usual["annotations"], "ColdStart": 0}),
        changed(annotations={**usual["annotations"], "ColdStart": 0.0}),
        changed(annotations={**usual["annotations"], "RequestId": 7}),
        changed(annotations={**usual["annotations"], "RequestId": _Encodes()}),
        changed(annotations={**usual["annotations"], "Service": "other"}),
        changed(annotations={**usual["annotations"], "extra": "x"}),
        changed(annotations=reordered),
        changed(fault=True),
        changed(_parent=object()),  # not a top-level span
        changed(name="## other"),
        changed(metadata={"orders": {"response": "a different length"}}),
        changed(metadata={"other": {"response": {"statusCode": 200, "body": "ok"}}}),
        changed(trace_id="1-5759e988-bd862e3fe1be46a99427279"),  # a digit short
        changed(parent_id="53995c3f42cd8ad"),
        changed(id="53995c3f42cd8ad8a"),
        changed(trace_id="1-5759e988-bd862e3fe1be46a9942727 3"),
        # hex enough for the ids' 38 bytes, cut in the wrong places
        changed(id="53995c3f42cd8ad8a", parent_id="53995c3f42cd8ad"),
        changed(trace_id="1-5759e988-bd862e3fe1be46a99427279", id="053995c3f42cd8ad8"),
        changed(end_time=None),
    ]
    for node in unusual:
        assert handlers.datagram(usual) == general_datagram(usual)  # the shape checked first
        assert handlers.usual(node) is None
        datagram = handlers.datagram(node)  # (it may learn the node's shape)
        assert datagram is None or datagram == general_datagram(node)
    assert handlers.datagram(usual) == general_datagram(usual)
    again = vars(invocation("r-3", cold=False))
    assert handlers.usual(again) == general_datagram(again)


def test_a_shape_whose_datagram_would_not_fit_is_never_checked_first() -> None:
    """A response whose datagram is over the limit: `datagram` gives it (its caller sends it
    the general way, cut down), `usual` never does."""
    handlers = otlp_datagrams.HandlerDatagrams(
        otlp_template.FlatSpans(otlp._links), FRAME, otlp.FRAMING
    )
    for request_id in ("r-0", "r-1"):
        node = vars(invocation(request_id, cold=False, blob="x" * otlp_template.DATAGRAM_LIMIT))
        assert handlers.usual(node) is None
        datagram = handlers.datagram(node)
        assert datagram is not None and len(datagram) > otlp_template.DATAGRAM_LIMIT


def test_annotations_without_a_request_id_never_take_those_with_one() -> None:
    """The kept attributes of annotations with a request id after the others are not those of
    the same others alone (their key list differs): found by the generated spans above, when
    one with `{"": "", "RequestId": ...}` came before one with `{"": ""}`."""
    flat = otlp_template.FlatSpans(otlp._links)
    span = {**vars(invocation("r-0", cold=False)), "metadata": {}}
    for found in ({"": "", "RequestId": "x"}, {"": ""}, {"": "", "RequestId": "y"}):
        for handler in (True, False):
            node = {**span, "annotations": found}
            assert flat.entry(node, handler, True) == general(node, handler, True)


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_the_usual_spans_json_is_serializes(value: Any) -> None:
    """`usual` calls documents.serialize's encoder without serialize's frame: the same text."""
    assert "".join(otlp_datagrams._json_chunks(value, 0)) == documents.serialize(value)
