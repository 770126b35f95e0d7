"""The recorder the layer's library patches call, and what aws-xray-sdk's patch modules see as
their `xray_recorder`.

`LAYER_RECORDER` resolves `get_backend().recorder` on each call (so a replaced backend is
followed) and passes calls straight through when tracing is off or the trace is not sampled.
`point_at_layer(module)` rebinds an SDK patch module's globals to it; `PASS_THROUGH` stands for it
in the SDK's modules for libraries the layer wraps itself, whose SDK wrappers must record
nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from types import ModuleType
from typing import Any

from lambda_tracing.propagation.header import layer_recorder

TRACE_HEADER_VARIABLE = "_X_AMZN_TRACE_ID"  # Lambda's, for the invocation
_SAMPLED = "Sampled=1"
_environ_get = os.environ.get

_untraced: ContextVar[bool] = ContextVar("lambda_tracing_untraced", default=False)


@contextlib.contextmanager
def untraced() -> Iterator[None]:
    """Calls made inside are not recorded by lower-level patches (urllib3): X-Ray's own API."""
    token = _untraced.set(True)
    try:
        yield
    finally:
        _untraced.reset(token)


def is_untraced() -> bool:
    return _untraced.get()


class LayerRecorder:
    """The recorder methods aws-xray-sdk's patchers use, delegated to `layer_recorder()`.

    When the invocation is not sampled (Sampled=0, or no trace at all) the call runs without
    any subsegment, not even the SDK's dummy; `current_subsegment` then answers the current
    entity, because the patchers ask it only to write the outbound header, which must still say
    Sampled=0 so downstream services do not start a trace of their own.
    """

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
        header = _environ_get(TRACE_HEADER_VARIABLE)
        if header is None or _SAMPLED not in header:  # not recorded: a string test tells
            return wrapped(*args, **kwargs)
        recorder = layer_recorder()
        if recorder is None:
            return wrapped(*args, **kwargs)
        return recorder.record_subsegment(
            wrapped, instance, args, kwargs, name, namespace, meta_processor
        )

    def current_subsegment(self) -> Any:
        recorder = layer_recorder()
        if recorder is None:
            return None
        subsegment = recorder.current_subsegment()
        if subsegment is None and not _sampled(recorder):
            return recorder.get_trace_entity()
        return subsegment

    def get_trace_entity(self) -> Any:
        recorder = layer_recorder()
        return recorder.get_trace_entity() if recorder is not None else None

    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Any:
        recorder = layer_recorder()
        if recorder is None:
            return contextlib.nullcontext()
        return recorder.in_subsegment(name, **kwargs)

    def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> Any:
        recorder = layer_recorder()
        if recorder is None:
            return contextlib.nullcontext()
        return recorder.in_subsegment_async(name, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(layer_recorder(), name)


def _sampled(recorder: Any) -> bool:
    try:
        return bool(getattr(recorder.get_trace_entity(), "sampled", False))
    except Exception:  # no trace and context_missing=RUNTIME_ERROR
        return False


LAYER_RECORDER = LayerRecorder()


class PassThroughRecorder:
    """The `xray_recorder` of an aws-xray-sdk patch module whose library the layer wraps
    itself (botocore, requests, httpx): the SDK's wrapper, if anything applies it (patch_all, run by
    Powertools' Tracer), records nothing, since ours does, and anything else it asks is
    answered as the layer's recorder answers it."""

    def record_subsegment(
        self, wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any, **_: Any
    ) -> Any:
        return wrapped(*args, **kwargs)

    def in_subsegment(self, name: str | None = None, **_: Any) -> Any:
        return contextlib.nullcontext()  # `with` and `async with`: a None subsegment

    in_subsegment_async = in_subsegment

    def __getattr__(self, name: str) -> Any:
        return getattr(LAYER_RECORDER, name)


PASS_THROUGH = PassThroughRecorder()


def pass_through(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    """In place of an aws-xray-sdk patch module's wrapper function, set before its patch()
    takes it: the call, untouched (the SDK's own wrappers read arguments in ways the library
    does not, and could raise where the library would not)."""
    return wrapped(*args, **kwargs)


def point_at_layer(module: ModuleType) -> None:
    """Make `module` (an aws-xray-sdk patch module) record through the layer's recorder and
    write trace headers through propagation.http (both are module globals read at call time)."""
    from lambda_tracing.propagation import http

    replacements = {"xray_recorder": LAYER_RECORDER, "inject_trace_header": http.inject}
    for name, value in replacements.items():
        if hasattr(module, name):
            setattr(module, name, value)


# --- aws-xray-sdk's own global recorder (Powertools Tracer's provider, the user's code) ---

_ADOPTED = "_lambda_tracing_adopted"
# Spans of ours handed out as if opened by the SDK's recorder: their end is the layer's.
_lent: ContextVar[tuple[Any, ...]] = ContextVar("lambda_tracing_lent", default=())


def adopt_sdk_recorder(sdk_recorder: Any) -> None:
    """Make aws-xray-sdk's global recorder record into the layer's spans while the layer traces
    the invocation (otherwise it works as before): Powertools Tracer's `## handler` then is the
    layer's handler span, not a sibling of it, and what the user opens with it (capture_method,
    in_subsegment) holds the calls made inside. Instance attributes over the SDK's methods, so
    references taken before (Powertools keeps its provider) follow. Idempotent; never raises."""
    try:
        if sdk_recorder is None or getattr(sdk_recorder, _ADOPTED, False):
            return
        for name in (
            "begin_subsegment",
            "end_subsegment",
            "current_subsegment",
            "get_trace_entity",
            "put_annotation",
            "put_metadata",
            "record_subsegment",
        ):
            original = getattr(sdk_recorder, name)
            setattr(sdk_recorder, name, _while_traced(getattr(_Adopted, name), original))
        setattr(sdk_recorder, _ADOPTED, True)
    except Exception:  # noqa: BLE001 - the SDK's recorder as it was beats a broken one
        import logging

        logging.getLogger(__name__).warning(
            "lambda_tracing: could not adopt aws-xray-sdk's recorder", exc_info=True
        )


def _while_traced(ours: Callable[..., Any], original: Callable[..., Any]) -> Callable[..., Any]:
    def either(*args: Any, **kwargs: Any) -> Any:
        header = _environ_get(TRACE_HEADER_VARIABLE)
        recorder = layer_recorder() if header is not None and _SAMPLED in header else None
        if recorder is None or not _sampled(recorder):
            return original(*args, **kwargs)
        return ours(recorder, *args, **kwargs)

    return either


class _Adopted:
    """The SDK recorder's methods over the layer's recorder (first argument)."""

    @staticmethod
    def begin_subsegment(recorder: Any, name: str, namespace: str = "local") -> Any:
        entity = recorder.get_trace_entity()
        spans = recorder.context.open_spans()
        if spans and spans[0] is entity and getattr(entity, "name", None) == name:
            _lent.set((*_lent.get(), entity))  # the handler's span: one, not two
            return entity
        return recorder.begin_subsegment(name, namespace)

    @staticmethod
    def end_subsegment(recorder: Any, end_time: float | None = None) -> None:
        current = recorder.current_subsegment()
        lent = _lent.get()
        if lent and lent[-1] is current:
            _lent.set(lent[:-1])  # the layer ends its own span
            return
        recorder.end_subsegment(end_time)

    @staticmethod
    def current_subsegment(recorder: Any) -> Any:
        return recorder.current_subsegment()

    @staticmethod
    def get_trace_entity(recorder: Any) -> Any:
        return recorder.get_trace_entity()

    @staticmethod
    def put_annotation(recorder: Any, key: str, value: Any) -> None:
        entity = recorder.get_trace_entity()
        if entity is not None:
            entity.put_annotation(key, value)

    @staticmethod
    def put_metadata(recorder: Any, key: str, value: Any, namespace: str = "default") -> None:
        entity = recorder.get_trace_entity()
        if entity is not None:
            entity.put_metadata(key, value, namespace)

    @staticmethod
    def record_subsegment(recorder: Any, *args: Any, **kwargs: Any) -> Any:
        return recorder.record_subsegment(*args, **kwargs)
