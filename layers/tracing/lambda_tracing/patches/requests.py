"""requests calls as `namespace: remote` subsegments: aws-xray-sdk's requests patcher and
processor, recording through the layer's recorder, with headers written by propagation.http
onto the prepared request, and the method recorded upper-case, as X-Ray expects it. Applied on
the first call, so a function that imports requests at init loads none of aws-xray-sdk until
it makes a request."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any

from lambda_tracing.patches.hooks import on_first_call, when_imported
from lambda_tracing.patches.layer_recorder import LAYER_RECORDER, point_at_layer
from lambda_tracing.propagation import http

log = logging.getLogger(__name__)

_PATCHED = "_lambda_tracing_patched"
SDK_MODULE = "aws_xray_sdk.ext.requests.patch"
# The SDK's processor and get_hostname, bound once patched; "theirs": its own wrappers.
_sdk_parts: dict[str, Any] = {}


def patch() -> None:
    """Instrument requests (idempotent): aws-xray-sdk is loaded and applied on the first call
    of `Session.request` or `Session.prepare_request` (the two methods its patcher wraps)."""
    import requests

    if getattr(requests, _PATCHED, False):
        return
    setattr(requests, _PATCHED, True)
    on_first_call(requests.Session, ("request", "prepare_request"), _patch_now)
    # Should the SDK patch requests itself first (patch_all, run by Powertools' Tracer), its
    # patch module is set up as ours would be the moment it loads, before it wraps anything.
    when_imported(SDK_MODULE, prepare_sdk_module)


def _patch_now() -> None:
    from aws_xray_sdk.core import patcher

    # importlib: the package attribute `patch` is the function, shadowing the module
    xray_requests = importlib.import_module(SDK_MODULE)
    prepare_sdk_module(xray_requests)
    patcher.patch(("requests",))
    _replace_wrappers_already_applied(_sdk_parts["theirs"], _OURS)


def prepare_sdk_module(xray_requests: ModuleType) -> None:
    """Make aws-xray-sdk's requests patch module record through the layer and wrap with
    our functions (idempotent), keeping the ones it had. The SDK's two wrappers read
    arguments in ways requests itself does not (url="" or request= by keyword raise
    IndexError, a url object breaks urlparse) and write the header into the caller's own
    dict: its patch() wraps with ours instead."""
    point_at_layer(xray_requests)
    _sdk_parts.setdefault(
        "theirs",
        {
            "request": xray_requests._xray_traced_requests,  # type: ignore[attr-defined]
            "prepare_request": xray_requests._inject_header,  # type: ignore[attr-defined]
        },
    )
    xray_requests._xray_traced_requests = _OURS["request"]  # type: ignore[attr-defined]
    xray_requests._inject_header = _OURS["prepare_request"]  # type: ignore[attr-defined]
    processor = _described(xray_requests.requests_processor)  # type: ignore[attr-defined]
    xray_requests.requests_processor = processor  # type: ignore[attr-defined]
    _sdk_parts["processor"] = processor
    _sdk_parts["hostname"] = importlib.import_module("aws_xray_sdk.ext.util").get_hostname


def _replace_wrappers_already_applied(theirs: dict[str, Any], ours: dict[str, Any]) -> None:
    """If the SDK had already patched requests (patch_all, run by Powertools' Tracer), its
    wrappers hold its own functions, not the ones above: swap in ours around the same call."""
    import requests
    import wrapt

    for name, function in ours.items():
        current = requests.Session.__dict__.get(name)
        sdk_function = theirs[name]
        if (
            sdk_function is not function
            and isinstance(current, wrapt.FunctionWrapper)
            and current._self_wrapper is sdk_function
        ):
            setattr(requests.Session, name, wrapt.FunctionWrapper(current.__wrapped__, function))


def _text(value: Any) -> str:
    """What requests makes of a method or url it is given: str, or bytes decoded."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _argument(args: Any, kwargs: Any, position: int, name: str) -> Any:
    """As patches.urllib3's, but a missing argument raises (the call is then left untraced)
    rather than reading as None."""
    return args[position] if len(args) > position else kwargs[name]


def _traced_request(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """Session.request inside a `remote` span named after the url's host; a call whose
    arguments cannot be read here is made untraced, and requests answers it as it would."""
    try:
        name = _sdk_parts["hostname"](_text(_argument(args, kwargs, 1, "url")))
    except Exception:  # noqa: BLE001
        return wrapped(*args, **kwargs)
    return LAYER_RECORDER.record_subsegment(
        wrapped,
        instance,
        args,
        kwargs,
        name=name,
        namespace="remote",
        meta_processor=_sdk_parts["processor"],
    )


def _header_on_prepared(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """Session.prepare_request, then the trace header on the prepared request's own headers
    (a copy: the caller's dict and Request stay as they were, and an invocation's header
    cannot linger in a dict reused by the next). A trace header the caller set stands."""
    prepared = wrapped(*args, **kwargs)
    try:
        http.inject_unless_present(prepared.headers, LAYER_RECORDER.current_subsegment())
    except Exception:  # noqa: BLE001
        log.debug("trace header not added to a requests call", exc_info=True)
    return prepared


def _described(original: Callable[..., None]) -> Callable[..., None]:
    """The SDK's processor, given the method and url as text (upper-case method, as X-Ray
    expects; `requests.get` passes "get") however the call passed them."""
    if getattr(original, "normalises_arguments", False):
        return original

    def processor(**kwargs: Any) -> None:
        args, call_kwargs = kwargs["args"], kwargs["kwargs"]
        method = _text(_argument(args, call_kwargs, 0, "method")).upper()
        url = _text(_argument(args, call_kwargs, 1, "url"))
        original(**{**kwargs, "args": (method, url), "kwargs": {}})

    processor.normalises_arguments = True  # type: ignore[attr-defined]
    return processor


_OURS = {"request": _traced_request, "prepare_request": _header_on_prepared}
