"""How a handler's exception reaches the trace (backend.entities Span.add_exception, issue 17):
a fault with its cause in every invocation, the message redacted, no user code run, nothing
written onto the user's exception object."""

from __future__ import annotations

from typing import Any

import lambda_tracing
import pytest
from lambda_tracing.capture import REDACTED
from lambda_tracing.testing import CapturedTraces

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2ln"


def handler_cause(traces: CapturedTraces) -> Any:
    (handler,) = traces.subsegments("## handler")
    assert handler.get("fault") is True
    return handler.get("cause")


def raise_each_time(error: BaseException) -> Any:
    @lambda_tracing.trace_handler
    def handler(event: Any, context: Any) -> Any:
        raise error

    return handler


def test_the_same_exception_raised_again_is_recorded_again_in_the_new_trace(
    lambda_tracing_capture: CapturedTraces,
) -> None:
    shared = ValueError("cached failure")
    handler = raise_each_time(shared)
    ids = []
    for _ in range(2):
        lambda_tracing_capture.clear()
        lambda_tracing_capture.new_trace()
        with pytest.raises(ValueError):
            handler({}, None)
        cause = handler_cause(lambda_tracing_capture)
        assert isinstance(cause, dict), cause  # not an id pointing into the first trace
        (exception,) = cause["exceptions"]
        assert exception["message"] == "cached failure"
        ids.append(exception["id"])
    assert ids[0] != ids[1]
    assert not hasattr(shared, "_recorded") and not hasattr(shared, "_cause_id")


def test_within_one_trace_a_parent_still_points_at_its_child_s_record(
    lambda_tracing_capture: CapturedTraces,
) -> None:
    @lambda_tracing.trace_handler
    def handler(event: Any, context: Any) -> Any:
        with lambda_tracing.subsegment("inner"):
            raise KeyError("k")

    with pytest.raises(KeyError):
        handler({}, None)
    (inner,) = lambda_tracing_capture.subsegments("inner")
    (recorded,) = inner["cause"]["exceptions"]
    assert handler_cause(lambda_tracing_capture) == recorded["id"]


class GetattrError(Exception):
    def __getattr__(self, name: str) -> Any:
        return f"made up {name}"


class SlottedError(Exception):
    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"read-only {name}")


@pytest.mark.parametrize(
    "error", [GetattrError("boom"), SlottedError("boom")], ids=["getattr", "unsettable"]
)
def test_odd_exception_classes_still_leave_a_fault_with_its_cause(
    error: Exception,
    lambda_tracing_capture: CapturedTraces,
) -> None:
    with pytest.raises(type(error)):
        raise_each_time(error)({}, None)
    cause = handler_cause(lambda_tracing_capture)
    assert isinstance(cause, dict), cause
    (exception,) = cause["exceptions"]
    assert exception["type"] == type(error).__name__ and exception["message"] == "boom"


def test_a_user_defined_str_is_never_called(lambda_tracing_capture: CapturedTraces) -> None:
    calls: list[str] = []

    class Loud(Exception):
        def __str__(self) -> str:
            calls.append("__str__")
            return "expensive"

    class Arg:
        def __str__(self) -> str:
            calls.append("arg __str__")
            return "arg"

        __repr__ = __str__

    for error in (Loud("plain message"), ValueError(Arg()), Loud(1, 2)):
        lambda_tracing_capture.clear()
        lambda_tracing_capture.new_trace()
        with pytest.raises(type(error)):
            raise_each_time(error)({}, None)
        (exception,) = handler_cause(lambda_tracing_capture)["exceptions"]
        assert exception["type"] == type(error).__name__
    assert calls == []


def test_exception_messages_are_redacted_even_with_all_capture_off(
    monkeypatch: pytest.MonkeyPatch,
    lambda_tracing_capture: CapturedTraces,
) -> None:
    monkeypatch.setenv("LAMBDA_TRACING_CAPTURE_RESPONSE", "false")
    monkeypatch.setenv("LAMBDA_TRACING_CAPTURE_EVENT", "false")

    @lambda_tracing.trace_handler(capture_response=False)
    def handler(event: Any, context: Any) -> Any:
        raise PermissionError(f"token {JWT} rejected")

    with pytest.raises(PermissionError):
        handler({}, None)
    (exception,) = handler_cause(lambda_tracing_capture)["exceptions"]
    assert exception["message"] == f"token {REDACTED} rejected"
    assert JWT not in str(lambda_tracing_capture.documents)


def test_builtin_messages_read_as_the_runtime_prints_them(
    lambda_tracing_capture: CapturedTraces,
) -> None:
    for error, text in (
        (KeyError("k"), "'k'"),
        (OSError(2, "No such file"), "[Errno 2] No such file"),
        (ValueError(), None),
    ):
        lambda_tracing_capture.clear()
        lambda_tracing_capture.new_trace()
        with pytest.raises(type(error)):
            raise_each_time(error)({}, None)
        (exception,) = handler_cause(lambda_tracing_capture)["exceptions"]
        assert exception.get("message") == text
