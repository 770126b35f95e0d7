"""Custom subsegments for calls the patchers do not know (a database driver, a gRPC client...).

    @lambda_tracing.subsegment("orders-db", namespace="remote", sql={"url": DSN})
    def load(order_id): ...

    async with lambda_tracing.subsegment("payments", namespace="remote",
                                         http={"method": "POST", "url": URL}) as span:
        ...

One object is a decorator (sync and async functions) and a context manager (`with` and
`async with`). `name` is the node X-Ray draws for a `remote`/`aws` namespace; `http` takes
aws-xray-sdk's `put_http_meta` keys (url, method, user_agent, client_ip, status, content_length);
`sql` the segment document's sql fields. An exception is recorded (as remote for remote/aws
namespaces) and re-raised unchanged. Parents follow the current thread/asyncio task (see
backend.context); when nothing is traced the span is None and the call runs untouched: an invocation
whose header lacks Sampled=1 costs a string test, the X-Ray SDK is not consulted.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from types import TracebackType
from typing import Any, TypeVar

from lambda_tracing.backend import get_backend
from lambda_tracing.failures import log_failure

F = TypeVar("F", bound=Callable[..., Any])

# Lambda's header for the invocation: without Sampled=1 nothing is recorded, which a substring
# test tells at once (the handler wrapper makes the same test, see invocation.py).
TRACE_HEADER_VARIABLE = "_X_AMZN_TRACE_ID"
_SAMPLED = "Sampled=1"
_environ_get = os.environ.get

# (Subsegment, span or None) for each `with` open in this thread/asyncio task, innermost last:
# one object may be entered by many tasks at once, and each task sees only its own entries.
_open: ContextVar[tuple[tuple[Any, Any], ...]] = ContextVar("lambda_tracing_open", default=())

NAMESPACES = ("local", "remote", "aws")
HTTP_KEYS = ("url", "method", "user_agent", "client_ip", "status", "content_length")
SQL_KEYS = (
    "connection_string",
    "url",
    "sanitized_query",
    "database_type",
    "database_version",
    "driver_version",
    "user",
    "preparation",
)


class Subsegment:
    """Decorator and (async) context manager recording one subsegment per use."""

    def __init__(
        self,
        name: str | None = None,
        *,
        namespace: str = "local",
        http: Mapping[str, Any] | None = None,
        sql: Mapping[str, Any] | None = None,
        annotations: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.namespace = namespace if namespace in NAMESPACES else "local"
        self.http = _mapping(http, "http")
        self.sql = {key: value for key, value in _mapping(sql, "sql").items() if key in SQL_KEYS}
        self.annotations = _mapping(annotations, "annotations")
        self.metadata = _mapping(metadata, "metadata")

    # --- decorator ---
    def __call__(self, function: F) -> F:
        name = self.name or getattr(function, "__qualname__", None) or "subsegment"
        scope = self if self.name else self._renamed(name)
        import inspect  # at decoration, not at import of the layer

        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def traced_coroutine(*args: Any, **kwargs: Any) -> Any:
                async with scope:
                    return await function(*args, **kwargs)

            return traced_coroutine  # type: ignore[return-value]

        @functools.wraps(function)
        def traced(*args: Any, **kwargs: Any) -> Any:
            with scope:
                return function(*args, **kwargs)

        return traced  # type: ignore[return-value]

    def _renamed(self, name: str) -> Subsegment:
        return Subsegment(
            name,
            namespace=self.namespace,
            http=self.http,
            sql=self.sql,
            annotations=self.annotations,
            metadata=self.metadata,
        )

    # --- context managers ---
    def __enter__(self) -> Any:
        header = _environ_get(TRACE_HEADER_VARIABLE)
        if header is None or _SAMPLED not in header:  # the unsampled path, inlined
            _open.set((*_open.get(), (self, None)))
            return None
        return self._open_span()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._end(error)

    async def __aenter__(self) -> Any:
        return self._begin()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._end(error)

    # --- the work, guarded: instrumentation never breaks the call ---
    def _begin(self) -> Any:
        header = _environ_get(TRACE_HEADER_VARIABLE)
        if header is None or _SAMPLED not in header:  # nothing recorded: not even the SDK's
            _open.set((*_open.get(), (self, None)))  # context is asked (a string test)
            return None
        return self._open_span()

    def _open_span(self) -> Any:
        span = None
        try:
            span = get_backend().begin_subsegment(self.name or "subsegment", self.namespace)
            if span is not None:
                self._describe(span)
        except Exception as failure:  # noqa: BLE001
            log_failure("opening a custom subsegment", failure)
        _open.set((*_open.get(), (self, span)))
        return span

    def _describe(self, span: Any) -> None:
        for key, value in self.http.items():
            if key in HTTP_KEYS and value is not None:
                span.put_http_meta(key, value)
        if self.sql and hasattr(span, "set_sql"):
            span.set_sql(dict(self.sql))
        for key, value in self.annotations.items():
            span.put_annotation(key, value)
        for key, value in self.metadata.items():
            span.put_metadata(key, value)

    def _end(self, error: BaseException | None) -> None:
        opened = _open.get()
        if opened and opened[-1][0] is self:
            span = opened[-1][1]
            _open.set(opened[:-1])
        else:  # exits out of order (a generator's `with`, records()): this object's innermost
            index = next((i for i in range(len(opened) - 1, -1, -1) if opened[i][0] is self), -1)
            if index < 0:
                return
            span = opened[index][1]
            _open.set(opened[:index] + opened[index + 1 :])
        if span is None:
            return
        if isinstance(error, Exception):
            try:
                from lambda_tracing.stacks import user_frames

                stack = user_frames(error, 10)
                span.add_exception(error, stack, remote=self.namespace != "local")
            except Exception as failure:  # noqa: BLE001
                log_failure("recording an exception on a custom subsegment", failure)
        try:
            get_backend().end_subsegment(span)
        except Exception as failure:  # noqa: BLE001
            log_failure("closing a custom subsegment", failure)


def _mapping(value: Any, what: str) -> dict[str, Any]:
    """A copy of an optional mapping argument; anything else is logged and dropped, so a wrong
    argument costs the subsegment's details, never the user's call."""
    if not value:
        return {}
    try:
        return dict(value)
    except Exception as failure:  # noqa: BLE001
        log_failure(f"reading the custom subsegment's {what}", failure)
        return {}


def subsegment(
    name: str | Callable[..., Any] | None = None,
    *,
    namespace: str = "local",
    http: Mapping[str, Any] | None = None,
    sql: Mapping[str, Any] | None = None,
    annotations: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    """A custom subsegment: `@subsegment`, `@subsegment("name", ...)`, `with`/`async with`."""
    if callable(name):
        return Subsegment()(name)
    return Subsegment(
        name,
        namespace=namespace,
        http=http,
        sql=sql,
        annotations=annotations,
        metadata=metadata,
    )
