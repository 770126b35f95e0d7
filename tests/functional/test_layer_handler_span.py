"""backend.handler_span: the handler's span as the wrapper alone writes it must be, to X-Ray and
to OTLP, the Span it stands for (the same document, the same datagram), and must become that
Span the moment anything else asks for it, with nothing lost either way."""

from __future__ import annotations

import copy
import inspect
import json
import os
import sys
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lambda_tracing import config
from lambda_tracing.backend import context as context_module
from lambda_tracing.backend.context import parse_header
from lambda_tracing.backend.entities import make_classes
from lambda_tracing.backend.handler_span import HandlerSpan
from lambda_tracing.backend.otlp import OTLPEmitter
from lambda_tracing.backend.xray import SPANS_AT_ONCE, XRayBackend
from lambda_tracing.documents import serialize
from test_layer_otlp import decode

Facade, Span = make_classes()
ROOT = "1-5759e988-bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"
HEADER = f"Root={ROOT};Parent={PARENT};Sampled=1"

texts = st.text(max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def wrapper_writes(draw: Any) -> dict[str, Any]:
    """What the handler wrapper may put on its span in one invocation."""
    constants = {"Service": draw(texts.filter(bool))}
    if draw(st.booleans()):
        constants["FunctionVersion"] = draw(texts.filter(bool))
    if draw(st.booleans()):
        constants["FunctionAlias"] = draw(texts.filter(bool))
    return {
        "name": draw(st.sampled_from(["## handler", "## lambda_handler", '## é "x"'])),
        "cold": draw(st.booleans()),
        "constants": constants,
        "request_id": draw(st.none() | texts.filter(bool)),
        "head": draw(st.booleans()),  # the JSON head given, or the dict alone
        "puts": draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["event", "response", "response_truncated"]), json_values
                ),
                max_size=3,
            )
        ),
        "namespace": draw(st.sampled_from(["bench", "service é", "AWS.x"])),
        "status": draw(st.none() | st.integers(100, 399)),
        "start": draw(st.floats(1.6e9, 2e9)),
        "duration": draw(st.floats(0, 900)),
    }


def handler_span(writes: dict[str, Any], facade: Any) -> HandlerSpan:
    """A HandlerSpan written as invocation._TracedInvocation writes it."""
    span = HandlerSpan(writes["name"], facade, Span)
    span.start_time = writes["start"]
    annotations = {"ColdStart": writes["cold"], **writes["constants"]}
    if writes["request_id"] is not None:
        annotations["RequestId"] = writes["request_id"]
    span.annotations = annotations
    if writes["head"]:
        head = {"ColdStart": writes["cold"], **writes["constants"]}
        span.annotations_head = serialize(head)[:-1]
    for key, value in writes["puts"]:
        span.put_json_metadata(key, value, writes["namespace"])
    if writes["status"] is not None:
        span.put_http_meta("status", writes["status"])
    return span


@settings(max_examples=300, deadline=None)
@given(writes=wrapper_writes())
def test_its_document_is_the_spans_it_stands_for(
    writes: dict[str, Any], segment_validator: Any
) -> None:
    facade = Facade(ROOT, PARENT, True, "")
    span = handler_span(writes, facade)
    assert span.end(writes["start"] + writes["duration"]) is None
    text = span.to_json()
    assert span.span is None  # written from what it kept
    segment_validator.validate(json.loads(text))  # AWS's segment-document schema
    materialized = span.materialize()
    assert materialized.to_json() == text
    document = json.loads(serialize(materialized.to_dict()))
    for key in ("start_time", "end_time"):  # written to the microsecond, as Span.to_json does
        document[key] = round(document[key], 6)
    assert json.loads(text) == document
    assert span.to_dict() == materialized.to_dict()


@settings(max_examples=100, deadline=None)
@given(wrapper_writes())
def test_its_otlp_datagram_is_the_spans_it_stands_for(writes: dict[str, Any]) -> None:
    sent: list[bytes] = []
    settings_ = config.load({"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9"})
    emitter = OTLPEmitter(settings_)
    emitter.send_datagrams = sent.extend  # type: ignore[method-assign]
    for _ in range(2):  # the second time from the skeleton the first one taught
        facade = Facade(ROOT, PARENT, True, "")
        span = handler_span(writes, facade)
        span.end(writes["start"] + writes["duration"])
        emitter.send_entity(span)
        emitter.send_entity(copy_of_the_span(span))
    assert sent[0] == sent[1] and sent[2] == sent[3]
    # and opentelemetry-proto reads it as ADOT's spans are read: Lambda's ids, a SERVER span
    (decoded,) = decode(sent[2])
    assert decoded.trace_id.hex() == ROOT[2:].replace("-", "")
    assert decoded.parent_span_id.hex() == PARENT
    assert decoded.kind == decoded.SPAN_KIND_SERVER


def copy_of_the_span(span: HandlerSpan) -> Any:
    """The Span `span` stands for, made apart from it (the same fields)."""
    twin = HandlerSpan(span.name, span.facade, Span)
    for field in ("id", "start_time", "annotations", "annotations_head", "metadata", "status"):
        setattr(twin, field, copy.deepcopy(getattr(span, field)))
    twin.end(span.end_time)  # type: ignore[arg-type]
    return twin.materialize()


def test_the_context_hands_out_the_span_it_stands_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", HEADER)
    backend = XRayBackend(config.load({"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9"}))
    documents: list[dict[str, Any]] = []
    backend.recorder.emitter = _Capturing(documents)
    handler = backend.begin_invocation("## handler", HEADER)
    assert type(handler) is HandlerSpan and handler.span is None
    current = backend.current_span()
    assert current is not None and current is handler.span
    assert (current.id, current.start_time) == (handler.id, handler.start_time)
    child = backend.begin_subsegment("work")
    assert child.parent_id == handler.id
    backend.end_subsegment(child)
    handler.put_json_metadata("response", {"ok": True}, "svc")  # goes to the span now
    backend.end_subsegment(handler)
    (document,) = documents
    assert document["id"] == handler.id
    assert [child["name"] for child in document["subsegments"]] == ["work"]
    assert document["metadata"] == {"svc": {"response": {"ok": True}}}
    assert backend.current_span() is None  # the invocation's stack is empty again


def test_what_only_a_span_has_makes_it_the_span() -> None:
    facade = Facade(ROOT, PARENT, True, "")
    span = HandlerSpan("## handler", facade, Span)
    span.put_annotation("user", 1)  # the SDK's method, on the Span
    assert span.span is not None and span.span.annotations == {"user": 1}
    span.put_http_meta("status", 503)  # flags: on the Span too
    assert span.span.fault is True


def test_protocol_lookups_do_not_make_the_span() -> None:
    span = HandlerSpan("## handler", Facade(ROOT, PARENT, True, ""), Span)
    copy.copy(span)
    with pytest.raises(AttributeError):
        span.__deepcopy__  # noqa: B018
    assert span.span is None


def test_made_after_it_was_sent_it_is_closed_and_sent() -> None:
    """A thread given the invocation's context asks for the current span as the handler
    returns: the Span it gets has ended and gone out, so a child opened under it goes out on
    its own (not into a document already sent)."""
    facade = Facade(ROOT, PARENT, True, "")
    span = HandlerSpan("## handler", facade, Span)
    span.end(span.start_time + 0.5)
    made = span.materialize()
    assert made.in_progress is False and made._sent is True
    assert made.end_time == span.start_time + 0.5


def test_made_once_from_many_threads() -> None:
    span = HandlerSpan("## handler", Facade(ROOT, PARENT, True, ""), Span)
    made: list[Any] = []
    threads = [threading.Thread(target=lambda: made.append(span.materialize())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(each) for each in made}) == 1


class _Capturing:
    def __init__(self, documents: list[dict[str, Any]]) -> None:
        self.documents = documents

    def send_entity(self, entity: Any) -> None:
        self.documents.append(json.loads(entity.to_json()))


@pytest.mark.parametrize(
    ("method", "line", "write"),
    [
        ("put_json_metadata", "metadata = self.metadata", ("response", {"ok": 1}, "svc")),
        ("put_http_meta", "self.status = value", ("status", 200)),
    ],
)
def test_a_write_as_another_thread_makes_the_span_reaches_the_span(
    method: str, line: str, write: tuple[Any, ...]
) -> None:
    """Another thread holding the invocation's context makes the span just as the wrapper
    writes (after the wrapper found no span yet): the write must reach the span made."""
    span = HandlerSpan("## handler", Facade(ROOT, PARENT, True, ""), Span)
    source, first = inspect.getsourcelines(getattr(HandlerSpan, method))
    target = first + next(number for number, text in enumerate(source) if line in text)
    other: list[threading.Thread] = []

    def trace(frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code.co_name != method:
            return None

        def at_line(frame: Any, event: str, arg: Any) -> Any:
            if event == "line" and frame.f_lineno == target and not other:
                other.append(threading.Thread(target=span.materialize))
                other[0].start()
                other[0].join(0.2)  # made now, unless the write holds it off
            return at_line

        return at_line

    sys.settrace(trace)
    try:
        getattr(span, method)(*write)
    finally:
        sys.settrace(None)
    other[0].join()
    made = span.materialize()
    if method == "put_json_metadata":
        assert made.metadata == {"svc": {"response": {"ok": 1}}}
    else:
        assert made.http == {"response": {"status": 200}}


@pytest.mark.parametrize(
    "header",
    [
        f"Root={ROOT}\n;Parent={PARENT};Sampled=1",
        f"Root={ROOT};Parent={PARENT}\n;Sampled=1",
    ],
)
def test_ids_are_hex_to_their_very_end(header: str) -> None:
    """The document writes the facade's ids unescaped: a header whose id ends in a newline
    (which `$` would have let through) is no trace."""
    assert parse_header(header) is None


def test_a_request_id_of_a_str_subclass_is_kept() -> None:
    class RequestId(str):
        def __getitem__(self, index: Any) -> Any:
            return RequestId(str.__getitem__(self, index))

    span = HandlerSpan("## handler", Facade(ROOT, PARENT, True, ""), Span)
    span.annotations = {"ColdStart": False, "Service": "svc", "RequestId": RequestId("req-1")}
    span.annotations_head = '{"ColdStart":false,"Service":"svc"'
    span.end(span.start_time + 1)
    assert json.loads(span.to_json())["annotations"]["RequestId"] == "req-1"
    assert span.to_json() == span.materialize().to_json()


def test_an_emitter_put_in_by_other_code_is_given_the_span() -> None:
    backend = XRayBackend(config.load({"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9"}))
    given_: list[Any] = []

    class Emitter:
        def send_entity(self, entity: Any) -> None:
            given_.append(entity)

    backend.recorder.emitter = Emitter()
    handler = backend.begin_invocation("## handler", HEADER)
    handler.put_json_metadata("response", {"ok": True}, "svc")
    backend.end_subsegment(handler)
    (entity,) = given_
    assert type(entity) is not HandlerSpan and entity is handler.span
    assert entity.metadata == {"svc": {"response": {"ok": True}}} and not entity.in_progress


class _Texts:
    """An emitter keeping the documents as the UDP emitter writes them (to_json)."""

    takes_handler_spans = True

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.kinds: list[bool] = []  # whether each was sent as a HandlerSpan

    def send_entity(self, entity: Any) -> None:
        self.texts.append(entity.to_json())
        self.kinds.append(type(entity) is HandlerSpan)


class _Context:
    aws_request_id = "req-\u00e9-1"
    function_version = "7"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:orders:prod"


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"requestContext": {}, "status": 200},
        {"requestContext": {}, "status": 302},
        {"requestContext": {}, "status": 503},
        {"Records": [{"eventSource": "aws:sqs", "messageId": "m-1", "attributes": {}}]},
    ],
)
@pytest.mark.parametrize("capture_event", [False, True])
def test_through_the_wrapper_the_document_is_the_one_a_span_makes(
    lambda_tracing_capture: Any,
    event: dict[str, Any],
    capture_event: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The handler wrapper's own span, sent as a HandlerSpan, against the same invocation
    whose handler asks for its span, the second time in a row (so that the backend makes it a
    Span from the start): the same document but for the ids and times."""
    import lambda_tracing

    def respond(event: dict[str, Any], context: Any) -> Any:
        return {"statusCode": event.get("status", 200), "body": '{"a": "b"}'}

    def asks(event: dict[str, Any], context: Any) -> Any:
        lambda_tracing.get_backend().current_span()  # the Span, from the start
        return respond(event, context)

    emitter = _Texts()
    backend = lambda_tracing.get_backend()
    backend.emitter = emitter
    begun: list[bool] = []  # whether each invocation's handler span began as a HandlerSpan
    begin = backend.begin_invocation

    def begin_and_note(name: str, header: str | None) -> Any:
        span = begin(name, header)
        begun.append(type(span) is HandlerSpan)
        return span

    monkeypatch.setattr(backend, "begin_invocation", begin_and_note)
    monkeypatch.setattr(backend, "_spans_at_once", 0)
    traced = [
        lambda_tracing.trace_handler(function, name="handler", capture_event=capture_event)
        for function in (respond, asks)
    ]
    for handler in (traced[0], traced[0], traced[1], traced[1]):  # each's second is kept
        lambda_tracing_capture.new_trace()
        handler(event, _Context())
    alone = "Records" not in event and event.get("status") != 503  # else made a Span by then
    assert emitter.kinds[1] is alone
    assert begun[3] is False  # the handler asked before: a Span from the start
    documents = [json.loads(emitter.texts[index]) for index in (1, 3)]
    for document in documents:
        for key in ("id", "start_time", "end_time", "trace_id", "parent_id"):
            document.pop(key)
    assert documents[0] == documents[1]
    assert documents[0]["annotations"]["RequestId"] == "req-\u00e9-1"


def test_a_handler_span_asked_for_makes_the_next_ones_spans_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A function whose handler span is asked for in one invocation (a call, a custom span)
    likely asks again: its next SPANS_AT_ONCE handler spans are Spans from the start, then a
    HandlerSpan is tried again. Either way each invocation's stack ends empty, and the same
    document goes out."""
    backend = XRayBackend(config.load({"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9"}))
    backend.recorder.emitter = _Capturing([])
    context = backend._context

    def invocation(child: bool) -> Any:
        header = f"Root=1-5759e988-{os.urandom(12).hex()};Parent={PARENT};Sampled=1"
        monkeypatch.setenv("_X_AMZN_TRACE_ID", header)
        handler = backend.begin_invocation("## handler", header)
        handler.put_json_metadata("response", {"n": 1}, "svc")
        if child:
            backend.end_subsegment(backend.begin_subsegment("call"))
        backend.end_subsegment(handler)
        assert context._state.get()[2] == ()  # nothing left open
        return type(handler) is HandlerSpan

    kinds = [invocation(child) for child in (False, True, *[False] * (SPANS_AT_ONCE + 1))]
    assert kinds == [True, True, *[False] * SPANS_AT_ONCE, True]
    documents = backend.recorder.emitter.documents
    assert [len(document.get("subsegments", [])) for document in documents] == [
        0,
        1,
        *[0] * (SPANS_AT_ONCE + 1),
    ]
    for document in documents:
        for key in ("id", "start_time", "end_time", "trace_id", "subsegments"):
            document.pop(key, None)
    assert all(document == documents[0] for document in documents)


def test_a_span_asked_for_through_the_context_takes_the_handler_spans_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Made through the context, the Span replaces the HandlerSpan in that stack: the end of
    the invocation finds it on top, without looking for what the HandlerSpan became."""
    monkeypatch.setenv("_X_AMZN_TRACE_ID", HEADER)
    backend = XRayBackend(config.load({"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9"}))
    backend.recorder.emitter = _Capturing([])
    handler = backend.begin_invocation("## handler", HEADER)
    span = backend.current_span()
    assert backend._context._state.get()[2] == (span,)
    looked: list[Any] = []
    monkeypatch.setattr(context_module, "_stands_for", lambda *args: looked.append(args))
    backend.end_subsegment(handler)
    assert looked == [] and backend._context._state.get()[2] == ()
    assert len(backend.recorder.emitter.documents) == 1


def test_a_handler_span_ended_twice_is_sent_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """User code ends the handler's span through the SDK's recorder; the wrapper ends it too."""
    monkeypatch.setenv("_X_AMZN_TRACE_ID", HEADER)
    backend = XRayBackend(config.load({"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9"}))
    backend.recorder.emitter = _Capturing([])
    handler = backend.begin_invocation("## handler", HEADER)
    backend.recorder.end_subsegment()  # the current subsegment: the handler's
    backend.end_subsegment(handler)
    assert len(backend.recorder.emitter.documents) == 1


def test_a_span_that_cannot_be_made_raises_nothing_and_loses_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The context is asked for the current span from inside the user's calls (a patched
    client): should making the handler's Span fail, the answer is Lambda's segment, the child
    goes out on its own under it, and the handler's span is still sent (by the emitters that
    take HandlerSpans: the layer's own, as here)."""
    monkeypatch.setenv("_X_AMZN_TRACE_ID", HEADER)
    backend = XRayBackend(config.load({"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9"}))
    emitter = backend.recorder.emitter = _Texts()

    def broken(self: HandlerSpan) -> Any:
        raise RuntimeError("no span today")

    monkeypatch.setattr(HandlerSpan, "_build", broken)
    handler = backend.begin_invocation("## handler", HEADER)
    entity = backend.recorder.get_trace_entity()
    assert (entity.trace_id, entity.id) == (ROOT, PARENT)  # Lambda's segment
    child = backend.begin_subsegment("work")
    backend.end_subsegment(child)
    backend.end_subsegment(handler)
    documents = [json.loads(text) for text in emitter.texts]
    assert [(d["name"], d["parent_id"]) for d in documents] == [
        ("work", PARENT),
        ("## handler", PARENT),
    ]
    assert backend.current_span() is None
