"""The small interface the handler wrapper, patches and custom subsegments talk to.

Only the X-Ray backend exists today (`backend/xray.py`, aws-xray-sdk imported lazily); an
OpenTelemetry backend must be addable behind this interface without touching handler code.
Every method must be safe to call with no active trace: it then does nothing and returns None.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol


class Span(Protocol):
    """What callers may do with an open subsegment (aws-xray-sdk's Subsegment fits)."""

    def put_annotation(self, key: str, value: Any) -> None: ...
    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None: ...
    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None: ...
    def put_http_meta(self, key: str, value: Any) -> None: ...


class TracingBackend(Protocol):
    def begin_invocation(self, name: str, header: str | None) -> Span | None:
        """Open the handler's span for the invocation whose trace header (Lambda's
        `_X_AMZN_TRACE_ID`) is `header`; None if that invocation is not traced."""

    def begin_subsegment(
        self, name: str, namespace: str = "local", start_time: float | None = None
    ) -> Span | None:
        """Open a subsegment under the current entity of this thread/task; None if not tracing.
        `start_time` (epoch seconds) backdates it, for work measured before the trace existed."""

    def end_subsegment(self, span: Span | None, end_time: float | None = None) -> None:
        """Close `span` (and send it as the backend sees fit); None is accepted and ignored."""

    def add_exception(self, span: Span | None, error: BaseException) -> None:
        """Record `error` on `span` as a fault with its traceback (layer frames left out)."""

    def in_subsegment(
        self, name: str, namespace: str = "local"
    ) -> AbstractContextManager[Span | None]:
        """Context manager around begin/end; records an exception and re-raises it."""

    def current_span(self) -> Span | None:
        """The innermost open entity of this thread/task, or None."""

    def trace_header(self) -> str | None:
        """`Root=...;Parent=<current entity id>;Sampled=...` for outbound propagation, or None."""

    def is_sampled(self) -> bool:
        """False when nothing is being recorded (no trace, Sampled=0, tracing disabled)."""

    def spans(self) -> Iterator[Span]:  # pragma: no cover - optional, for the test plugin
        ...
