"""What the layer's library patches (botocore, requests, httpx, urllib3) call on "the recorder":
the part of aws-xray-sdk's AWSXRayRecorder its patchers used, over the layer's own context and
spans, so a patched call costs one span and no trace-header re-reads.

A recorded call's span joins its parent's document (one datagram per invocation, not one per
call); an exception is recorded with the caller's frames, as the SDK's recorder does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from lambda_tracing.failures import log_failure

MAX_TRACE_BACK = 10


class Recorder:
    max_trace_back = MAX_TRACE_BACK

    def __init__(self, backend: Any, context: Any, emitter: Any) -> None:
        self._backend = backend
        self.context = context
        self.emitter = emitter

    def get_trace_entity(self) -> Any:
        """The innermost open span, else the invocation's facade, else None (no trace)."""
        return self.context.get_trace_entity()

    def current_subsegment(self) -> Any:
        entity = self.context.get_trace_entity()
        return entity if getattr(entity, "type", None) == "subsegment" else None

    def is_sampled(self) -> bool:
        return bool(getattr(self.context.get_trace_entity(), "sampled", False))

    def begin_subsegment(self, name: str, namespace: str = "local") -> Any:
        return self._backend.begin_subsegment(name, namespace)

    def end_subsegment(self, end_time: float | None = None) -> None:
        self._backend.end_subsegment(self.current_subsegment(), end_time)

    def in_subsegment(self, name: str | None = None, namespace: str = "local", **_: Any) -> Any:
        return _SpanScope(self._backend, self.context, name or "subsegment", namespace)

    in_subsegment_async = in_subsegment

    def record_subsegment(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: Any,
        kwargs: Any,
        name: str,
        namespace: str,
        meta_processor: Any,
    ) -> Any:
        """`wrapped(*args, **kwargs)` inside a span that `meta_processor` describes (the SDK
        patchers' processors); its result and exception pass through unchanged."""
        backend = self._backend
        span = backend.begin_subsegment(name, namespace)
        if span is None:
            return wrapped(*args, **kwargs)
        exception: Exception | None = None
        return_value = None
        try:
            return_value = wrapped(*args, **kwargs)
            return return_value
        except Exception as error:
            exception = error
            raise
        finally:
            end_time = time.time()
            self._describe(
                span, meta_processor, wrapped, instance, args, kwargs, return_value, exception
            )
            backend.end_subsegment(span, end_time)

    def _describe(
        self,
        span: Any,
        meta_processor: Any,
        wrapped: Any,
        instance: Any,
        args: Any,
        kwargs: Any,
        return_value: Any,
        exception: Exception | None,
    ) -> None:
        try:
            stack = None
            if exception is not None:
                from lambda_tracing.stacks import user_frames

                stack = user_frames(exception, self.max_trace_back)
            if callable(meta_processor):
                meta_processor(
                    wrapped=wrapped,
                    instance=instance,
                    args=args,
                    kwargs=kwargs,
                    return_value=return_value,
                    exception=exception,
                    subsegment=span,
                    stack=stack,
                )
            elif exception is not None:
                span.add_exception(exception, stack)
        except Exception as failure:  # noqa: BLE001 - never into the user's call
            log_failure("describing a recorded call", failure)


class _SpanScope:
    """`with` / `async with recorder.in_subsegment(...)`: a span opened and closed in the
    caller's thread or task (so concurrent tasks keep their own parents: backend.context). In an
    unsampled trace it gives the facade, whose recording methods do nothing, so the caller
    still writes a Sampled=0 header downstream, as it would with the SDK's dummy segment."""

    def __init__(self, backend: Any, context: Any, name: str, namespace: str) -> None:
        self._backend = backend
        self._context = context
        self._name = name
        self._namespace = namespace
        self._span: Any = None

    def __enter__(self) -> Any:
        span = self._span = self._backend.begin_subsegment(self._name, self._namespace)
        if span is None:
            entity = self._context.current_entity()
            return entity if entity is not None and not entity.sampled else None
        return span

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._span is not None:
            if isinstance(error, Exception):
                self._backend.add_exception(self._span, error)
            self._backend.end_subsegment(self._span)

    async def __aenter__(self) -> Any:
        return self.__enter__()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(kind, error, traceback)
