"""The frames the layer puts between Lambda's runtime and the user's code, and the entry the
wrapper points `_HANDLER` at: `lambda_tracing.bootstrap.handler`.

The file is named for what Lambda's Python runtime does with it: awslambdaric's bootstrap.py
reports a stack trace without its leading frames from files named `bootstrap.py`, its own. The
layer's frames that sit between those and the user's sit here, and every other frame of ours is
cut out of the traceback (stacks.without_layer_frames), so the runtime's stackTrace, its log
and its X-Ray cause show the user's frames only, as without the layer.

`handler` is made on first access (PEP 562), i.e. inside the runtime's own
`getattr(module, "handler")`: the user's module is then imported at the same depth and from the
same runtime frames as without the layer.
"""

from __future__ import annotations

import sys

from lambda_tracing.isolation import layer_imports

with layer_imports():  # past the function's own modules (a typing.py in the task root)
    from collections.abc import Callable
    from typing import Any

TRACE_HEADER_VARIABLE = "_X_AMZN_TRACE_ID"
_SAMPLED = "Sampled=1"
# Frames of ours between the runtime and the user's handler: given back to the recursion limit
# for the call, so a handler that fits under the limit without the layer fits with it.
_UNTRACED_FRAMES = 1  # traced_handler
_TRACED_FRAMES = 2  # traced_handler, _TracedInvocation.__call__


def __getattr__(name: str) -> Any:
    if name != "handler":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with layer_imports():
        from lambda_tracing.startup import build_handler
    try:
        handler = build_handler()
    except BaseException as error:
        from lambda_tracing.stacks import traceback_of, with_traceback, without_layer_frames

        raise with_traceback(error, without_layer_frames(traceback_of(error)))  # noqa: B904
    globals()["handler"] = handler
    return handler


def traced(
    handler: Callable[..., Any],
    invocation: Callable[..., Any],
    first_invocation: Callable[[], bool],
    environ_get: Callable[[str], str | None],
    inside: Callable[[], bool],
) -> Callable[..., Any]:
    """The function the runtime calls instead of `handler`: `invocation` traces a sampled
    call; anything else goes straight to `handler`."""
    get_limit, set_limit = sys.getrecursionlimit, sys.setrecursionlimit

    # *args/**kwargs: a test calling handler(event=..., context=...) must work as before.
    def traced_handler(*args: Any, **kwargs: Any) -> Any:
        cold = first_invocation()
        header = environ_get(TRACE_HEADER_VARIABLE)
        limit = get_limit()
        try:
            if header is None or _SAMPLED not in header or inside():
                set_limit(limit + _UNTRACED_FRAMES)
                return handler(*args, **kwargs)
            set_limit(limit + _TRACED_FRAMES)
            return invocation(args, kwargs, cold, header)
        except BaseException as error:
            raise _with_traceback(error, _without_layer_frames(_traceback_of(error)))  # noqa: B904
        finally:
            if get_limit() in (limit + _UNTRACED_FRAMES, limit + _TRACED_FRAMES):
                set_limit(limit)  # unless the handler set its own

    return traced_handler


# BaseException's own slot and method: a class's __getattribute__ is user code (as in stacks).
_traceback_of = BaseException.__dict__["__traceback__"].__get__
_with_traceback = BaseException.with_traceback


def _without_layer_frames(traceback: Any) -> Any:
    try:
        from lambda_tracing.stacks import without_layer_frames

        return without_layer_frames(traceback)
    except Exception:  # noqa: BLE001 - the user's exception, whole, beats none
        return traceback
