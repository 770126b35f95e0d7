"""Wrapping a Lambda handler: one subsegment per sampled invocation, the function untouched.

The wrapped handler is called exactly once per invocation, outside any instrumentation `try`
that could swallow or alter what it returns or raises; every instrumentation step is guarded
and logs its failure once. Untraced invocations (no header, Sampled=0, nested traced call) cost
an environment lookup and a substring test.
"""

from __future__ import annotations

import functools
import os
import types
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from lambda_tracing import coldstart
from lambda_tracing.bootstrap import _SAMPLED, TRACE_HEADER_VARIABLE, traced
from lambda_tracing.config import Settings
from lambda_tracing.documents import serialize
from lambda_tracing.failures import log_failure

WRAPPED_MARK = "__lambda_tracing_wrapped__"
_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE
_CO_VARARGS = 0x04  # inspect.CO_VARARGS
_inside_traced_handler: ContextVar[bool] = ContextVar("lambda_tracing_inside", default=False)

Handler = Callable[..., Any]
_NOT_YET: Any = object()  # equal to no context attribute

# Forks into this process's line so far: a child that returns through the handler (or exits
# through it) is not the invocation's process, and records nothing of its parent's span.
_forks = [0]
os.register_at_fork(after_in_child=lambda: _forks.__setitem__(0, _forks[0] + 1))


def is_wrapped(handler: Any) -> bool:
    return getattr(handler, WRAPPED_MARK, False) is True


def wrap(handler: Handler, settings: Settings, name: str | None = None) -> Handler:
    """`handler` traced per `settings`; returned unchanged if tracing is off or already on."""
    if is_wrapped(handler) or not settings.enabled or not _callable_as_lambda_calls(handler):
        return handler
    invocation = _TracedInvocation(handler, settings, name)
    environ_get = os.environ.get
    first_invocation = coldstart.cold_start.take
    inside = _inside_traced_handler.get
    if settings.log_trace_id:
        _install_log_filter()

    if _is_async(handler):
        return _wrap_async(handler, invocation)

    traced_handler = functools.wraps(handler)(
        # The bound method: calling the instance would cost one more recursion level (3.11).
        traced(handler, invocation.__call__, first_invocation, environ_get, inside)
    )
    setattr(traced_handler, WRAPPED_MARK, True)
    return traced_handler


def _callable_as_lambda_calls(handler: Any) -> bool:
    """False when `handler(event, context)` must fail: not callable, or a plain function whose
    parameters cannot take those two. The runtime's own TypeError then names the runtime's
    frame only, as without the layer (wrapped, it would name ours too)."""
    if not callable(handler):
        return False
    function = getattr(handler, "__func__", handler)  # a bound method: self is given
    code = getattr(function, "__code__", None)
    if code is None or not isinstance(function, types.FunctionType):
        return True
    given = 2 + (function is not handler)
    positional_ok = bool(code.co_flags & _CO_VARARGS) or code.co_argcount >= given
    required = code.co_argcount - len(function.__defaults__ or ())
    keywords = code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
    keywords_ok = all(name in (function.__kwdefaults__ or {}) for name in keywords)
    return positional_ok and required <= given and keywords_ok


def _is_async(handler: Any) -> bool:
    """An `async def` function, a functools.partial of one, or an object whose __call__ is
    one (inspect.iscoroutinefunction and more, without importing inspect at start-up)."""
    while isinstance(handler, functools.partial):
        handler = handler.func
    code = getattr(handler, "__code__", None)
    if code is None:
        # The class's __call__ (inherited too), read off the class, as a call looks it up.
        calls = (
            klass.__dict__["__call__"]
            for klass in type(handler).__mro__
            if "__call__" in klass.__dict__
        )
        code = getattr(next(calls, None), "__code__", None)
    return code is not None and bool(code.co_flags & _CO_COROUTINE)


def _wrap_async(handler: Handler, invocation: _TracedInvocation) -> Handler:
    """An `async def` handler (run by a framework or test, not Lambda's runtime): the span
    covers the awaited call, not the making of the coroutine."""
    first_invocation = coldstart.cold_start.take

    @functools.wraps(handler)
    async def traced_async_handler(*args: Any, **kwargs: Any) -> Any:
        cold = first_invocation()
        header = os.environ.get(TRACE_HEADER_VARIABLE)
        if header is None or _SAMPLED not in header or _inside_traced_handler.get():
            return await handler(*args, **kwargs)
        return await invocation.call_async(args, kwargs, cold, header)

    setattr(traced_async_handler, WRAPPED_MARK, True)
    return traced_async_handler


def _install_log_filter() -> None:
    try:
        from lambda_tracing import logs

        logs.install()
    except Exception as error:  # noqa: BLE001
        log_failure("installing the log filter", error)


class _TracedInvocation:
    def __init__(self, handler: Handler, settings: Settings, name: str | None) -> None:
        from lambda_tracing.documents import safe_name

        self.handler = handler
        self.settings = settings
        self.name = safe_name(f"## {name or getattr(handler, '__name__', 'handler')}")
        namespace = settings.service
        self.namespace = f"service {namespace}" if namespace.startswith("AWS.") else namespace
        self._capturer: Any = None
        # (function version, ARN) the constant annotations were made for, and those
        self._annotated_for: tuple[Any, Any] = (_NOT_YET, _NOT_YET)
        self._constant_annotations: dict[str, Any] = {}
        self._annotation_heads: tuple[str, str] = ("", "")

    def __call__(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], cold: bool, header: str | None = None
    ) -> Any:
        token = _inside_traced_handler.set(True)
        try:
            event = args[0] if args else kwargs.get("event")
            context = args[1] if len(args) > 1 else kwargs.get("context")
            backend, span = self._begin(event, context, cold, header)
            forks = _forks[0]
            try:
                result = self.handler(*args, **kwargs)
            except BaseException as error:
                if forks == _forks[0]:  # a forked child leaves its parent's span alone
                    self._end_with_error(backend, span, error)
                raise
            if forks == _forks[0]:
                self._end_with_result(backend, span, event, result)
            return result
        finally:
            _inside_traced_handler.reset(token)

    async def call_async(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], cold: bool, header: str | None = None
    ) -> Any:
        """__call__ for an `async def` handler, line for line: sharing the body with the sync
        path would cost every sync invocation a generator or context manager."""
        token = _inside_traced_handler.set(True)
        try:
            event = args[0] if args else kwargs.get("event")
            context = args[1] if len(args) > 1 else kwargs.get("context")
            backend, span = self._begin(event, context, cold, header)
            forks = _forks[0]
            try:
                result = await self.handler(*args, **kwargs)
            except BaseException as error:
                if forks == _forks[0]:  # a forked child leaves its parent's span alone
                    self._end_with_error(backend, span, error)
                raise
            if forks == _forks[0]:
                self._end_with_result(backend, span, event, result)
            return result
        finally:
            _inside_traced_handler.reset(token)

    # --- instrumentation steps: each guarded, none may raise ---

    def _begin(self, event: Any, context: Any, cold: bool, header: str | None) -> tuple[Any, Any]:
        backend: Any = None
        span: Any = None
        try:
            backend = _get_backend()
            # The init breakdown goes out with the first invocation that has a trace to put it
            # in (not lost with a first one whose trace header is unusable).
            if coldstart.init_pending() and self.settings.cold_start_breakdown:
                coldstart.emit_init(backend)
            begin = getattr(backend, "begin_invocation", None)
            if begin is None:
                span = backend.begin_subsegment(self.name)
            else:
                span = begin(self.name, header)
            if span is not None:
                self._annotate(span, context, cold)
                if _carries_upstream_traces(event):
                    from lambda_tracing.backend.handler_span import resolved
                    from lambda_tracing.sources import record_inbound

                    record_inbound(resolved(span), event)
                if self.settings.capture_event:
                    self._put_captured(span, "event", event)
        except Exception as error:  # noqa: BLE001
            log_failure("starting the handler subsegment", error)
        return backend, span

    def _annotate(self, span: Any, context: Any, cold: bool) -> None:
        # Our keys are constant and valid, and the values typed here, so they go straight into
        # the annotations dict: put_annotation re-validates each key character by character,
        # a measurable share of the per-invocation cost.
        version = getattr(context, "function_version", None)
        arn = getattr(context, "invoked_function_arn", None)
        if version != self._annotated_for[0] or arn != self._annotated_for[1]:
            # The same on every invocation of an execution environment: made once.
            self._annotated_for = (version, arn)
            constants = self._constant_annotations = self._constants(version, arn)
            # Their JSON with ColdStart's two values, open for the request id (a HandlerSpan's)
            self._annotation_heads = (
                serialize({"ColdStart": False, **constants})[:-1],
                serialize({"ColdStart": True, **constants})[:-1],
            )
        annotations = {"ColdStart": cold, **self._constant_annotations}
        request_id = getattr(context, "aws_request_id", None)
        if isinstance(request_id, str) and request_id:
            annotations["RequestId"] = request_id[:128]  # last: OTLP's template expects it so
        if type(span) is _HandlerSpan:
            span.annotations = annotations
            span.annotations_head = (
                self._annotation_heads[cold] if cold is True or cold is False else None
            )
            return
        existing = getattr(span, "annotations", None)
        if type(existing) is dict:
            existing.update(annotations)
        else:
            for key, value in annotations.items():
                span.put_annotation(key, value)

    def _constants(self, version: Any, arn: Any) -> dict[str, Any]:
        """Service, FunctionVersion and FunctionAlias, for this version and ARN."""
        constants: dict[str, Any] = {"Service": self.settings.service}
        version = version or os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        if isinstance(version, str) and version:
            constants["FunctionVersion"] = version[:64]
        alias = _alias(arn)
        if alias:
            constants["FunctionAlias"] = alias
        return constants

    def _put_captured(self, span: Any, key: str, value: Any) -> None:
        if self._capturer is None:
            from lambda_tracing.capture import Capturer

            self._capturer = Capturer(self.settings)
        copy, truncated = self._capturer.capture(value)
        # The copy is JSON-safe: a span that can take it as it is need not convert it again.
        put = getattr(span, "put_json_metadata", None) or span.put_metadata
        put(key, copy, self.namespace)
        if truncated:
            put(f"{key}_truncated", True, self.namespace)

    def _end_with_error(self, backend: Any, span: Any, error: BaseException) -> None:
        if span is None:
            return
        try:
            backend.add_exception(span, error)
        except Exception as failure:  # noqa: BLE001
            log_failure("recording the handler's exception", failure)
        self._end(backend, span)

    def _end_with_result(self, backend: Any, span: Any, event: Any, result: Any) -> None:
        if span is None:
            return
        try:
            status = _http_status(event, result)
            if status is not None:
                span.put_http_meta("status", status)
            if self.settings.capture_response:
                self._put_captured(span, "response", result)
        except Exception as failure:  # noqa: BLE001
            log_failure("recording the handler's response", failure)
        self._end(backend, span)

    def _end(self, backend: Any, span: Any) -> None:
        try:
            backend.end_subsegment(span)
        except Exception as failure:  # noqa: BLE001
            log_failure("ending the handler subsegment", failure)


def _get_backend() -> Any:
    global _get_backend, _HandlerSpan
    from lambda_tracing.backend import get_backend
    from lambda_tracing.backend.handler_span import HandlerSpan

    _get_backend = get_backend  # later calls skip the import statements
    _HandlerSpan = HandlerSpan  # imported with the backend, not at start-up
    return get_backend()


# backend.handler_span.HandlerSpan once the backend is made (no span is one before)
_HandlerSpan: Any = None


def _carries_upstream_traces(event: Any) -> bool:
    """Batch and event-bus sources whose records each carry their producer's trace. HTTP
    sources need no link: Lambda already continues their caller's trace, and skipping them
    keeps Powertools' event classes off the API path."""
    return isinstance(event, dict) and ("Records" in event or "detail-type" in event)


def _alias(function_arn: Any) -> str | None:
    """The alias in a qualified function ARN (`...:function:name:alias`), not a version."""
    if not isinstance(function_arn, str):
        return None
    parts = function_arn.split(":")
    if len(parts) != 8:
        return None
    qualifier = parts[7]
    if not qualifier or qualifier == "$LATEST" or qualifier.isdigit():
        return None
    return qualifier[:128]


def _http_status(event: Any, result: Any) -> int | None:
    """The status code of an API Gateway / ALB / Function URL response, else None.

    Read as capture reads: by exact type, a dict subclass through dict's own method, so none
    of the user's methods (get, __getitem__, __class__, int/str subclasses') runs."""
    if type(event) is not dict or not issubclass(type(result), dict):
        return None
    if "requestContext" not in event and "httpMethod" not in event:
        return None
    status = dict.get(result, "statusCode")
    if type(status) is str and len(status) == 3 and str.isascii(status) and str.isdigit(status):
        status = int(status)
    if type(status) is int and 100 <= status <= 599:
        return status
    return None
