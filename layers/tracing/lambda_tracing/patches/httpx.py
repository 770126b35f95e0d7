"""httpx calls (Client and AsyncClient) as `namespace: remote` subsegments, recorded by the layer.

Every request httpx sends, each hop of a redirect included, goes through the clients'
`_send_single_request`, wrapped here with plain functions when httpx is imported. Its subsegment
is named after the URL's host and holds what aws-xray-sdk's httpx patcher (which wraps the
transport) writes: the method, the URL without password, query or fragment, the response status
or the exception. The trace headers go on the request httpx sends, unless the caller set one;
each hop of a redirect carries its own subsegment's.

No class is swapped (the SDK's patcher replaces `httpx.Client`), so clients made from
references taken before patching are traced too, and none of the SDK's recorder or wrapt is
loaded: the SDK's patcher cost a cold start that imports httpx about 8 ms, as Lambda runs it.
Should the SDK patch httpx as well (patch_all, run by Powertools' Tracer), its transports record
nothing: one subsegment per request.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

from lambda_tracing.patches.hooks import when_imported, wrap_method
from lambda_tracing.patches.layer_recorder import LAYER_RECORDER, PASS_THROUGH
from lambda_tracing.patches.remote import host_name
from lambda_tracing.propagation import http
from lambda_tracing.propagation.header import XRAY_HEADER

log = logging.getLogger(__name__)

_PATCHED = "_lambda_tracing_patched"
SDK_MODULE = "aws_xray_sdk.ext.httpx.patch"
_SEND = "_send_single_request"  # httpx's one request, without redirects (0.18 to 0.28)
_WRITTEN = "lambda_tracing.trace_header"  # request extension: the header the layer wrote


def patch() -> None:
    """Instrument httpx (idempotent)."""
    import httpx

    if getattr(httpx, _PATCHED, False):
        return
    setattr(httpx, _PATCHED, True)  # first: a failure half-way never wraps twice
    wrap_method(_defining(httpx.Client), _SEND, _traced_send)
    wrap_method(_defining(httpx.AsyncClient), _SEND, _traced_send_async)
    when_imported(SDK_MODULE, prepare_sdk_module)


def _defining(client_class: type) -> type:
    """The class that defines the send method: httpx's own, even where the SDK's patcher has
    already put its subclass in `httpx.Client`."""
    for klass in client_class.__mro__:
        if _SEND in klass.__dict__:
            return klass
    raise AttributeError(f"{client_class.__qualname__} has no {_SEND}")


def _scope(request: Any, scope_of: Any) -> Any:
    try:
        return scope_of(host_name(str(request.url)), namespace="remote")
    except Exception:  # noqa: BLE001 - the request is sent untraced
        log.debug("httpx request not traced", exc_info=True)
        return None


def _request_fields(span: Any, request: Any) -> None:
    """The method and url on `span` (a span, or the facade of an unsampled trace, whose
    recording methods do nothing), and the trace headers on the request."""
    if span is None:
        return
    try:
        span.put_http_meta("method", request.method)
        span.put_http_meta(
            "url", str(request.url.copy_with(password=None, query=None, fragment=None))
        )
        # The caller's own header stands; one the layer wrote on this request before (a
        # redirect's next hop copies it, a request sent again keeps it) is written anew.
        headers = request.headers
        present = headers.get(XRAY_HEADER)  # httpx's headers: any case matches
        if present is None or present == request.extensions.get(_WRITTEN):
            http.inject(headers, span)
            request.extensions[_WRITTEN] = headers.get(XRAY_HEADER)
    except Exception:  # noqa: BLE001
        log.debug("httpx request not described", exc_info=True)


def _response_fields(span: Any, response: Any) -> None:
    if span is None:
        return
    try:
        span.put_http_meta("status", response.status_code)
    except Exception:  # noqa: BLE001
        log.debug("httpx response not described", exc_info=True)


def _traced_send(call: Any, client: Any, args: Any, kwargs: Any) -> Any:
    request = args[0] if args else kwargs.get("request")
    scope = _scope(request, LAYER_RECORDER.in_subsegment)
    if scope is None:
        return call(*args, **kwargs)
    with scope as span:
        _request_fields(span, request)
        response = call(*args, **kwargs)
        _response_fields(span, response)
        return response


async def _traced_send_async(call: Any, client: Any, args: Any, kwargs: Any) -> Any:
    request = args[0] if args else kwargs.get("request")
    scope = _scope(request, LAYER_RECORDER.in_subsegment_async)
    if scope is None:
        return await call(*args, **kwargs)
    async with scope as span:
        _request_fields(span, request)
        response = await call(*args, **kwargs)
        _response_fields(span, response)
        return response


def prepare_sdk_module(xray_httpx: ModuleType) -> None:
    """Make aws-xray-sdk's httpx transports, should anything apply its patcher, record
    nothing: the layer's wrappers do (idempotent)."""
    xray_httpx.xray_recorder = PASS_THROUGH  # type: ignore[attr-defined]
