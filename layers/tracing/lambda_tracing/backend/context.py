"""Which invocation and which open span the current thread or asyncio task is in.

Per `contextvars` context: the facade of the invocation whose trace header it last saw, and the
stack of open spans, as one immutable tuple. The trace header is parsed once per invocation (a
new header is a new invocation, with a fresh facade and an empty stack), not on every lookup;
hostile headers mean "no trace". Outside a trace, an attempt to open a span follows
AWS_XRAY_CONTEXT_MISSING.

Being context-local is what keeps concurrent work apart: aws-xray-sdk keeps its stack in a
`threading.local`, so asyncio tasks of one thread share it and become each other's parents
(aws-xray-sdk-python#164). Here each task, running in a copy of its creator's context, sees its
creator's open span as parent and pushes its own spans only into its own copy; so does a thread
started under `contextvars.copy_context().run`. A plain new thread starts with an empty context:
its spans go under the invocation's facade.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from lambda_tracing.backend.handler_span import HandlerSpan, resolved
from lambda_tracing.failures import log_failure

logger = logging.getLogger(__name__)

TRACE_HEADER_VARIABLE = "_X_AMZN_TRACE_ID"
MAX_HEADER = 1024
_ROOT = r"^1-[0-9a-f]{8}-[0-9a-f]{24}\Z"
_PARENT = r"^[0-9a-f]{16}\Z"
# The form Lambda sets, read in one match; anything else goes through the general parser.
_LAMBDA_HEADER = re.compile(
    r"Root=(1-[0-9a-f]{8}-[0-9a-f]{24});Parent=([0-9a-f]{16});Sampled=([01])((?:;[^;=]+=[^;=]*)*)\Z"
)
_environ_get = os.environ.get


def valid_ids(root: str | None, parent: str | None) -> bool:
    """X-Ray's id formats; anything else would make every document we send invalid."""
    return bool(root and parent and _root_match(root) and _parent_match(parent))


# re.match compiles on first use and caches: not on the cold path of a function that makes
# no call or only sees headers in Lambda's form.
def _root_match(text: str) -> re.Match[str] | None:
    return re.match(_ROOT, text)


def _parent_match(text: str) -> re.Match[str] | None:
    return re.match(_PARENT, text)


def parse_header(header: str | None) -> tuple[str, str, bool, str] | None:
    """(root, parent, sampled, tail after the known fields) of a trace header, or None when it
    is missing, oversize or carries ids X-Ray would reject."""
    if not header or len(header) > MAX_HEADER:
        return None
    match = _LAMBDA_HEADER.match(header)
    if match is not None:
        return match[1], match[2], match[3] == "1", match[4]
    fields: dict[str, str] = {}
    for part in header.strip().split(";"):  # as aws-xray-sdk's TraceHeader.from_header_str
        entry = part.split("=")
        if len(entry) > 1:
            fields[entry[0]] = entry[1]
    root, parent = fields.pop("Root", None), fields.pop("Parent", None)
    if not valid_ids(root, parent):
        return None
    sampled = fields.pop("Sampled", None) == "1"
    fields.pop("Self", None)
    tail = "".join(f";{key}={value}" for key, value in fields.items())
    return root, parent, sampled, tail  # type: ignore[return-value]


# (trace header, facade or None, open spans innermost last)
State = tuple[str | None, Any, tuple[Any, ...]]


class InvocationContext:
    def __init__(self, facade_class: type, context_missing: str) -> None:
        # aws-xray-sdk's global switch (AWS_XRAY_SDK_ENABLED, or set in code); its top package
        # holds no recorder and no models.
        from aws_xray_sdk import global_sdk_config

        self._sdk_enabled = global_sdk_config.sdk_enabled
        self._facade_class = facade_class
        self._missing = context_missing
        self._state: ContextVar[State | None] = ContextVar(
            f"lambda_tracing_context_{id(self):x}", default=None
        )

    def enter(
        self, header: str | None, opening: Callable[[Any], Any] | None = None
    ) -> tuple[Any, Any]:
        """Make `header`'s trace current: (its facade, None) if it already was, else (the new
        facade or None if no trace, `opening(facade)`: the invocation's first open span, or
        None)."""
        state = self._state.get()
        if state is not None and state[0] == header:
            return state[1], None
        parts = parse_header(header)
        facade = None
        if parts is not None:
            root, parent, sampled, tail = parts
            facade = self._facade_class(root, parent, sampled and self._sdk_enabled(), tail)
        first = opening(facade) if opening is not None and facade is not None else None
        self._state.set((header, facade, () if first is None else (first,)))
        return facade, first

    def get_trace_entity(self) -> Any:
        """The innermost open span of this thread/task, else the invocation's facade, else None
        (no trace)."""
        header = _environ_get(TRACE_HEADER_VARIABLE)
        state = self._state.get()
        if state is None or state[0] != header:
            return self.enter(header)[0]
        spans = state[2]
        if not spans:
            return state[1]
        entity = spans[-1]
        return self._made(state, entity) if type(entity) is HandlerSpan else entity

    def current_entity(self) -> Any:
        """get_trace_entity without re-reading the trace header."""
        state = self._state.get()
        if state is None:
            return None
        if not state[2]:
            return state[1]
        entity = state[2][-1]
        return self._made(state, entity) if type(entity) is HandlerSpan else entity

    def _made(self, state: State, handler: HandlerSpan) -> Any:
        """The Span `handler` (innermost) stands for, in its place in this thread's/task's
        stack from now on (others holding the HandlerSpan find its Span through it).

        Asked from inside the user's own calls (a patched client, a custom span), it must not
        raise: should making the Span fail, the answer is Lambda's segment, so what opens now
        goes out on its own, and the wrapper still sends the handler's span as it is."""
        try:
            span = handler.materialize()
        except Exception as error:  # noqa: BLE001
            log_failure("making the handler's span", error)
            return state[1]
        self._state.set((state[0], state[1], (*state[2][:-1], span)))
        return span

    def open_spans(self) -> list[Any]:
        state = self._state.get()
        return [resolved(span) for span in state[2]] if state is not None else []

    def attach(self, entity: Any, span_factory: Callable[[Any], Any], what: str) -> Any:
        """`span_factory(entity)` opened under `entity` (the current entity) and made the current
        one; None outside a trace or in an unsampled one."""
        if entity is None:
            self._outside_trace(what)
            return None
        if not entity.sampled:
            return None
        span = span_factory(entity)
        if entity is not span.parent_segment:
            if entity.in_progress:
                entity.add_subsegment(span)
            else:  # a thread or task outliving the span it started under: the SDK's
                span._detached = True  # add_subsegment would refuse it; it goes out alone
        state = self._state.get()
        if state is not None:
            self._state.set((state[0], state[1], (*state[2], span)))
        return span

    def pop(self, span: Any, end_time: float) -> None:
        """Take `span` off this thread's/task's stack; spans opened after it and left open by
        user code are closed with it."""
        state = self._state.get()
        if state is None or not state[2]:
            return
        spans = state[2]
        if spans[-1] is span:
            self._state.set((state[0], state[1], spans[:-1]))
            return
        for index in range(len(spans) - 1, -1, -1):
            # identity: entities define no __eq__; a handler span's place is its Span's too
            if spans[index] is span or _stands_for(spans[index], span):
                for leaked in spans[index + 1 :]:
                    if type(leaked) is HandlerSpan:
                        leaked = leaked.span
                    if leaked is not None and leaked.in_progress:
                        leaked.close(end_time)
                self._state.set((state[0], state[1], spans[:index]))
                return

    def _outside_trace(self, what: str) -> None:
        if self._missing == "RUNTIME_ERROR":
            from aws_xray_sdk.core.exceptions.exceptions import SegmentNotFoundException

            raise SegmentNotFoundException(f"{what}: no active X-Ray trace")
        if self._missing == "LOG_ERROR":
            logger.warning("lambda_tracing: %s outside a traced invocation; discarded", what)


def _stands_for(entry: Any, span: Any) -> bool:
    """Whether `entry` (an open-spans entry) is a HandlerSpan that became `span`."""
    return type(entry) is HandlerSpan and entry.span is span and span is not None
