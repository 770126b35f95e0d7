"""Distributed tracing for AWS Lambda: attach with the layer's wrapper, or decorate the handler.

    import lambda_tracing

    @lambda_tracing.trace_handler
    def handler(event, context): ...

    @lambda_tracing.trace_handler(capture_response=False)
    def other(event, context): ...

Importing this package only defines names; the X-Ray SDK is loaded on the first traced call.
"""

from __future__ import annotations

from lambda_tracing.isolation import layer_imports

with layer_imports():  # past the function's own modules (a typing.py in the task root)
    from typing import TYPE_CHECKING, Any

    # Bound eagerly (a few definitions): the function shares its module's name, and a lazy
    # binding would be replaced by the module object as soon as anything imports
    # lambda_tracing.records.
    from lambda_tracing.records import records

if TYPE_CHECKING:
    from lambda_tracing.backend import get_backend
    from lambda_tracing.config import Settings
    from lambda_tracing.config import load as load_settings
    from lambda_tracing.subsegments import Subsegment, subsegment

__all__ = [
    "Settings",
    "Subsegment",
    "get_backend",
    "load_settings",
    "records",
    "subsegment",
    "trace_handler",
]


def trace_handler(handler: Any = None, /, *, name: str | None = None, **settings: Any) -> Any:
    """Trace a Lambda handler. Keyword arguments override the settings' environment variables
    (see lambda_tracing.config.Settings); `name` names the subsegment (default: the function's).
    Used together with the layer's wrapper, the handler is still traced only once."""

    def decorate(function: Any) -> Any:
        try:
            from lambda_tracing import config, invocation

            return invocation.wrap(function, config.load(**settings), name)
        except Exception as error:  # noqa: BLE001 - an untraced function beats a broken one
            from lambda_tracing.failures import log_failure

            log_failure("decorating the handler", error)
            return function

    if handler is None:
        return decorate
    return decorate(handler)


def __getattr__(name: str) -> Any:
    if name == "get_backend":
        from lambda_tracing.backend import get_backend

        return get_backend
    if name == "load_settings":
        from lambda_tracing.config import load

        return load
    if name == "Settings":
        from lambda_tracing.config import Settings

        return Settings
    if name in ("subsegment", "Subsegment"):
        from lambda_tracing import subsegments

        return getattr(subsegments, name)
    raise AttributeError(f"module 'lambda_tracing' has no attribute {name!r}")
