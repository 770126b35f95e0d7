"""The X-Ray backend: Lambda's facade segment read from `_X_AMZN_TRACE_ID`, spans under it
on aws-xray-sdk's entity model, documents sent to AWS_XRAY_DAEMON_ADDRESS over UDP.

Nothing of aws-xray-sdk is imported at import of this module; building the backend (first traced
invocation) imports its entity model only (backend.sdk_models), not its recorder. Every public
method swallows and logs its own failures.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lambda_tracing.backend.context import valid_ids
from lambda_tracing.backend.handler_span import HandlerSpan, handler_span_name, resolved
from lambda_tracing.config import Settings
from lambda_tracing.documents import safe_name
from lambda_tracing.failures import log_failure

logger = logging.getLogger(__name__)

SPANS_AT_ONCE = 16  # handler spans made Spans at once after one was asked for (see __init__)


class XRayBackend:
    """TracingBackend for X-Ray. `recorder` is what the library patches call (see
    backend.recorder), so their subsegments join the handler's."""

    def __init__(self, settings: Settings) -> None:
        from lambda_tracing.backend import make_emitter
        from lambda_tracing.backend.context import InvocationContext
        from lambda_tracing.backend.entities import make_classes
        from lambda_tracing.backend.recorder import Recorder

        facade_class, span_class = make_classes()
        self.settings = settings
        self._context: Any = InvocationContext(facade_class, settings.context_missing)
        self._span_class: Any = span_class
        self.recorder = Recorder(self, self._context, make_emitter(settings))
        # A handler span asked for (a call, a custom span) is likely asked for again: the next
        # SPANS_AT_ONCE handler spans are made Spans at once (a HandlerSpan would only cost its
        # making), then a HandlerSpan is tried again.
        self._spans_at_once = 0

    # --- emitter access, for the pytest plugin ---
    @property
    def emitter(self) -> Any:
        return self.recorder.emitter

    @emitter.setter
    def emitter(self, value: Any) -> None:
        self.recorder.emitter = value

    # --- TracingBackend ---
    def is_sampled(self) -> bool:
        try:
            return self.recorder.is_sampled()
        except Exception as error:  # noqa: BLE001
            log_failure("is_sampled", error)
            return False

    def begin_invocation(self, name: str, header: str | None) -> Any:
        """begin_subsegment for the handler, with the trace header the caller already read."""
        try:
            context = self._context

            def opening(facade: Any) -> Any:  # a new invocation: the span opens its stack
                if not facade.sampled:
                    return None
                if self._spans_at_once:
                    self._spans_at_once -= 1
                    return self._span_class(handler_span_name(name), "local", facade)
                return HandlerSpan(name, facade, self._span_class)

            facade, span = context.enter(header, opening)
            if span is None and facade is not None and facade.sampled:
                # The same invocation again (a test, nested handlers): the general way.
                return self._open(context.current_entity(), name, "local", None)
            return span
        except Exception as error:  # noqa: BLE001
            log_failure("begin_subsegment", error)
            return None

    def begin_subsegment(
        self, name: str, namespace: str = "local", start_time: float | None = None
    ) -> Any:
        try:
            return self._open(self._context.get_trace_entity(), name, namespace, start_time)
        except Exception as error:  # noqa: BLE001
            log_failure("begin_subsegment", error)
            return None

    def _open(self, entity: Any, name: str, namespace: str, start_time: float | None) -> Any:
        span_class = self._span_class
        safe = safe_name(name)

        def make(parent: Any) -> Any:
            span = span_class(safe, namespace, parent)
            if start_time is not None:
                span.start_time = start_time
            return span

        return self._context.attach(entity, make, f"subsegment {safe}")

    def end_subsegment(self, span: Any, end_time: float | None = None) -> None:
        """Close `span`. A top-level one (child of Lambda's facade) is sent with its subtree at
        once; a child is sent with its top-level span, or on its own if that has already gone
        or its parent had ended when it opened (a thread outliving the handler, or the span it
        started under). Children left open by user code are closed with it."""
        if span is None:
            return
        try:
            end_time = time.time() if end_time is None else end_time
            if type(span) is HandlerSpan:
                materialized = span.end(end_time)
                if materialized is None:  # only the wrapper used it: sent as it is
                    self._context.pop(span, end_time)
                    emitter = self.recorder.emitter
                    # An emitter put in by other code is given the Span, as always.
                    if not getattr(emitter, "takes_handler_spans", False):
                        span = span.materialize()
                    emitter.send_entity(span)
                    return
                span = materialized
                self._spans_at_once = SPANS_AT_ONCE
            self._context.pop(span, end_time)
            if span.in_progress:
                span.close(end_time)
            if span.top_level:
                if span._sent:  # ended twice (user code through the SDK's recorder, then us)
                    return
                span._sent = True
                self.recorder.emitter.send_entity(span)
            elif span._detached or _top_sent(span):
                self.recorder.emitter.send_entity(span)
        except Exception as error:  # noqa: BLE001
            log_failure("end_subsegment", error)

    @contextmanager
    def in_subsegment(self, name: str, namespace: str = "local") -> Iterator[Any]:
        span = self.begin_subsegment(name, namespace)
        try:
            yield span
        except BaseException as error:
            self.add_exception(span, error)
            raise
        finally:
            self.end_subsegment(span)

    def add_exception(self, span: Any, error: BaseException) -> None:
        """Record `error` on `span` as a fault, with its traceback (our frames left out)."""
        if span is None:
            return
        try:
            from lambda_tracing.stacks import user_frames

            span = resolved(span)
            span.add_exception(error, user_frames(error, self.recorder.max_trace_back))
        except Exception as failure:  # noqa: BLE001
            log_failure("recording an exception", failure)

    def current_span(self) -> Any:
        try:
            return self.recorder.current_subsegment()
        except Exception as error:  # noqa: BLE001
            log_failure("current_span", error)
            return None

    def trace_header(self) -> str | None:
        try:
            entity = self.recorder.get_trace_entity()
            if entity is None:
                return None
            segment = getattr(entity, "parent_segment", entity)
            trace_id = getattr(segment, "trace_id", None)
            if not valid_ids(trace_id, getattr(entity, "id", None)):
                return None
            sampled = 1 if getattr(entity, "sampled", False) else 0
            return f"Root={trace_id};Parent={entity.id};Sampled={sampled}"
        except Exception as error:  # noqa: BLE001
            log_failure("trace_header", error)
            return None

    def spans(self) -> Iterator[Any]:
        yield from self._context.open_spans()


class NoopBackend:
    """Used when tracing is disabled or the X-Ray SDK cannot start: does nothing, safely."""

    recorder = None

    def is_sampled(self) -> bool:
        return False

    def begin_invocation(self, name: str, header: str | None) -> None:
        return None

    def begin_subsegment(
        self, name: str, namespace: str = "local", start_time: float | None = None
    ) -> None:
        return None

    def end_subsegment(self, span: Any, end_time: float | None = None) -> None:
        return None

    @contextmanager
    def in_subsegment(self, name: str, namespace: str = "local") -> Iterator[None]:
        yield None

    def add_exception(self, span: Any, error: BaseException) -> None:
        return None

    def current_span(self) -> None:
        return None

    def trace_header(self) -> None:
        return None

    def spans(self) -> Iterator[Any]:
        return iter(())


def _top_sent(span: Any) -> bool:
    """Whether the top-level span above `span` has gone out (or, sent, has been freed)."""
    top = span.top()
    return top is None or top._sent
