"""requests calls as `namespace: remote` subsegments, recorded by the layer itself.

`Session.request` and `Session.prepare_request` are wrapped with plain functions when requests is
imported. A call is a subsegment named after the URL's host (`UNKNOWN HOST` when it has none),
with the fields aws-xray-sdk's requests patcher writes: the method (upper-case, as X-Ray expects
it; `requests.get` passes "get"), the URL without its query, the response status, or the
exception. Headers are written by propagation.http onto the prepared request (a copy: the
caller's dict stays as it was). None of the SDK's recorder, patcher or wrapt is loaded.

Should aws-xray-sdk patch requests as well (patch_all, run by Powertools' Tracer), its wrappers
pass calls through to ours: one subsegment per call, one header.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

from lambda_tracing.patches.hooks import when_imported, wrap_method
from lambda_tracing.patches.layer_recorder import (
    LAYER_RECORDER,
    PASS_THROUGH,
    pass_through,
    point_at_layer,
)
from lambda_tracing.patches.remote import host_name
from lambda_tracing.propagation import http
from lambda_tracing.propagation.header import XRAY_HEADER

log = logging.getLogger(__name__)

_PATCHED = "_lambda_tracing_patched"
SDK_MODULE = "aws_xray_sdk.ext.requests.patch"
_CASE_INSENSITIVE: Any = None  # requests' CaseInsensitiveDict, once patched


def patch() -> None:
    """Instrument requests (idempotent)."""
    global _CASE_INSENSITIVE
    import requests
    import requests.structures

    if getattr(requests, _PATCHED, False):
        return
    setattr(requests, _PATCHED, True)  # first: a failure half-way never wraps twice
    _CASE_INSENSITIVE = requests.structures.CaseInsensitiveDict
    wrap_method(requests.Session, "request", _traced_request)
    wrap_method(requests.Session, "prepare_request", _header_on_prepared)
    when_imported(SDK_MODULE, prepare_sdk_module)


def _text(value: Any) -> str:
    """What requests makes of a method or url it is given: str, or bytes decoded."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _argument(args: Any, kwargs: Any, position: int, name: str) -> Any:
    """As patches.urllib3's, but a missing argument raises (the call is then left untraced)
    rather than reading as None."""
    return args[position] if len(args) > position else kwargs[name]


def _traced_request(call: Any, session: Any, args: Any, kwargs: Any) -> Any:
    """Session.request inside a `remote` span named after the url's host; a call whose
    arguments cannot be read here is made untraced, and requests answers it as it would."""
    name = None
    try:
        name = host_name(_text(_argument(args, kwargs, 1, "url")))
    except Exception:  # noqa: BLE001
        log.debug("requests call not traced", exc_info=True)
    if name is None:
        return call(*args, **kwargs)
    return LAYER_RECORDER.record_subsegment(
        call, session, args, kwargs, name=name, namespace="remote", meta_processor=describe
    )


def describe(
    *,
    wrapped: Any = None,
    instance: Any = None,
    args: Any,
    kwargs: Any,
    return_value: Any,
    exception: BaseException | None,
    subsegment: Any,
    stack: Any,
) -> None:
    """The span of `Session.request(*args, **kwargs)`: method, url, status or exception."""
    method = _text(_argument(args, kwargs, 0, "method")).upper()
    url = _text(_argument(args, kwargs, 1, "url"))
    subsegment.put_http_meta("method", method)
    subsegment.put_http_meta("url", url.partition("?")[0] if url else url)
    if return_value is not None:
        subsegment.put_http_meta("status", return_value.status_code)
    elif exception is not None:
        subsegment.add_exception(exception, stack)


def _header_on_prepared(call: Any, session: Any, args: Any, kwargs: Any) -> Any:
    """Session.prepare_request, then the trace header on the prepared request's own headers
    (a copy: the caller's dict and Request stay as they were, and an invocation's header
    cannot linger in a dict reused by the next). A trace header the caller set stands."""
    prepared = call(*args, **kwargs)
    try:
        headers = prepared.headers
        if type(headers) is _CASE_INSENSITIVE:  # as requests makes them: one lookup tells
            if XRAY_HEADER not in headers:
                http.inject(headers, LAYER_RECORDER.current_subsegment())
        else:
            http.inject_unless_present(headers, LAYER_RECORDER.current_subsegment())
    except Exception:  # noqa: BLE001
        log.debug("trace header not added to a requests call", exc_info=True)
    return prepared


def prepare_sdk_module(xray_requests: ModuleType) -> None:
    """Make aws-xray-sdk's requests patch module, should anything load and apply it, leave
    calls and headers to the layer's wrappers (idempotent). Its wrapper functions are replaced
    before its patch() takes them: they read arguments in ways requests does not (url="" by
    keyword raises IndexError, a url object breaks urlparse) and write the header into the
    caller's own dict. Should it have wrapped already, its recorder passes calls through."""
    point_at_layer(xray_requests)
    xray_requests.xray_recorder = PASS_THROUGH  # type: ignore[attr-defined]
    xray_requests._xray_traced_requests = pass_through  # type: ignore[attr-defined]
    xray_requests._inject_header = pass_through  # type: ignore[attr-defined]
