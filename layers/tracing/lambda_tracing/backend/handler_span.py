"""The handler's span while only the handler wrapper has used it.

Most invocations make no traced call and open no span of their own: the wrapper alone writes
their handler span (ids, times, its annotations, the captured event and response, an HTTP
status). `HandlerSpan` keeps just those, and writes its document from them in one step: no SDK
entity with its dozen containers, and none of the checks a span that any code could have
changed needs before it can be written the short way.

The first time anything else asks for it (the current entity, to open a child under it,
propagate its id, record an exception, any attribute a span has), it becomes that entity:
`materialize()` makes the Span it stands for (the same id and start time, what the wrapper put
so far; closed and marked sent if it has already ended), and from then on every call goes to
that Span, as if it had been one from the start. The backend's context hands out that Span,
never this object.

Its document is the text Span.to_json writes for the materialized span, and OTLP mode reads its
fields for the same datagram the Span would give (otlp_datagrams.HandlerDatagrams.usual_handler;
tests/functional/test_layer_handler_span.py compares both).
"""

from __future__ import annotations

import json
import random
import threading
import time
from typing import Any

from lambda_tracing.documents import safe_name, serialize

REQUEST_ID = "RequestId"  # the wrapper's last annotation, different in every invocation
_escape = json.encoder.encode_basestring_ascii
_random_bits = random.getrandbits  # ids need uniqueness, not secrecy (as entities.Span's)
_now = time.time
# One lock for every handler span: materializing is rare and short, and it must not race the
# wrapper ending the span (a child opened in another thread as the handler returns).
_lock = threading.Lock()
_names: dict[str, tuple[str, str]] = {}  # name -> (X-Ray-safe name, its JSON)
_NAMES_LIMIT = 64


def handler_span_name(name: str) -> str:
    """`name` made X-Ray-safe (documents.safe_name), as a handler span's (kept per name)."""
    return _name_parts(name)[0]


def _name_parts(name: str) -> tuple[str, str]:
    parts = _names.get(name)
    if parts is None:
        safe = safe_name(name)
        parts = (safe, _escape(safe))
        if len(_names) < _NAMES_LIMIT:
            _names[name] = parts
    return parts


class HandlerSpan:
    """The handler's span of one invocation under `facade` (sampled), as the wrapper writes it.
    `make_span(name, namespace, parent)` makes the Span it stands for when asked."""

    __slots__ = (
        "id",
        "name",
        "start_time",
        "end_time",
        "facade",
        "annotations",
        "annotations_head",
        "metadata",
        "status",
        "span",
        "_name_json",
        "_make_span",
    )

    def __init__(self, name: str, facade: Any, make_span: Any) -> None:
        self.id = f"{_random_bits(64):016x}"
        self.name, self._name_json = _name_parts(name)
        self.start_time = _now()
        self.end_time: float | None = None
        self.facade = facade
        # Set by the wrapper: its annotations (the request id last), and their JSON without
        # the request id and the closing brace (None: written from the dict).
        self.annotations: dict[str, Any] | None = None
        self.annotations_head: str | None = None
        self.metadata: dict[str, dict[str, Any]] | None = None  # JSON-safe copies only
        self.status: int | None = None  # an HTTP status under 400 (no flag to set)
        self.span: Any = None  # the Span, once materialized
        self._make_span = make_span

    def __getattr__(self, name: str) -> Any:
        # Anything a span has but this does not: the span, from now on. Not a slot read before
        # it is set, nor a protocol lookup (copy's __deepcopy__, ...): those are not questions
        # to the span.
        if name.startswith("__") or name in _SLOTS:
            raise AttributeError(name)
        return getattr(self.materialize(), name)

    # --- what the wrapper writes ---

    # Kept here only under the lock: another thread holding the invocation's context may make
    # the span at any moment, and a value kept after it has read what was kept would be lost.
    # (`span` is set once and never unset: once seen, it needs no lock.)

    def put_json_metadata(self, key: str, value: Any, namespace: str) -> None:
        """Span.put_json_metadata: a value already JSON-safe (capture's copies)."""
        span = self.span
        if span is None:
            with _lock:
                span = self.span
                if span is None:
                    metadata = self.metadata
                    if metadata is None:
                        self.metadata = {namespace: {key: value}}
                    elif namespace in metadata:
                        metadata[namespace][key] = value
                    else:
                        metadata[namespace] = {key: value}
                    return
        span.put_json_metadata(key, value, namespace)

    def put_http_meta(self, key: str, value: Any) -> None:
        """A response status under 400 is kept; anything else sets the span's own fields and
        flags (aws-xray-sdk's put_http_meta), on the span."""
        if self.span is None and key == "status" and type(value) is int and 100 <= value < 400:
            with _lock:
                if self.span is None:
                    self.status = value
                    return
        self.materialize().put_http_meta(key, value)

    def end(self, end_time: float) -> Any:
        """Mark the span ended at `end_time`: None if only the wrapper used it (its document is
        then written from here), else the Span to end as any other."""
        span = self.span
        if span is None:
            with _lock:
                span = self.span
                if span is None:
                    self.end_time = end_time
        return span

    # --- becoming the span ---

    def materialize(self) -> Any:
        """The Span this stands for, made on the first call."""
        span = self.span
        if span is None:
            with _lock:
                span = self.span
                if span is None:
                    span = self.span = self._build()
        return span

    def _build(self) -> Any:
        span = self._make_span(self.name, "local", self.facade)
        span.id = self.id
        span.start_time = self.start_time
        if self.annotations:
            span.annotations.update(self.annotations)
        if self.status is not None:
            span.put_http_meta("status", self.status)
        if self.metadata:
            span.metadata.update(self.metadata)
        if self.end_time is not None:  # already sent as this: later children go on their own
            span.close(self.end_time)
            span._sent = True
        return span

    # --- what emitters read ---

    def to_json(self) -> str:
        """The document Span.to_json writes for the span this stands for."""
        end = self.end_time
        if self.span is not None or type(end) is not float:
            return self.materialize().to_json()  # not the wrapper's alone, or still open
        blocks = ""
        if self.status is not None:
            blocks = f'"http":{{"response":{{"status":{self.status}}}}},'
        annotations = self.annotations
        if annotations:
            head = self.annotations_head
            request_id = annotations.get(REQUEST_ID, annotations)  # itself: none
            if head is not None and type(request_id) is str:
                text = f'{head},"RequestId":{_escape(request_id)}}}'
            elif head is not None and request_id is annotations:
                text = head + "}"
            else:  # no head, or a request id of another type
                text = serialize(annotations)
            blocks += f'"annotations":{text},'
        if self.metadata:
            blocks += f'"metadata":{serialize(self.metadata)},'
        facade = self.facade
        # The facade's ids passed the header's format check (context.valid_ids: hex digits and
        # dashes, anchored at the very end): nothing in them to escape; the span id is ours.
        return (
            f'{{"id":"{self.id}","name":{self._name_json},"start_time":{self.start_time:.6f},'
            f'"parent_id":"{facade.id}","in_progress":false,{blocks}'
            f'"trace_id":"{facade.trace_id}","type":"subsegment","namespace":"local",'
            f'"end_time":{end:.6f}}}'
        )

    def to_dict(self) -> dict[str, Any]:
        return self.materialize().to_dict()  # type: ignore[no-any-return]


def resolved(entity: Any) -> Any:
    """`entity`, or the Span a HandlerSpan stands for."""
    return entity.materialize() if type(entity) is HandlerSpan else entity


_SLOTS = frozenset(HandlerSpan.__slots__)
