"""urllib3 calls as `namespace: remote` subsegments, in the shape of aws-xray-sdk's patchers
(which have none for urllib3): `HTTPConnectionPool.urlopen` recorded with the layer's recorder.

A call made inside another outbound subsegment (botocore, requests, or a custom remote
subsegment) is already a node: it is left entirely alone (botocore's signed headers must not be
touched). Retries and redirects, which re-enter `urlopen`, follow the same rule. An untraced
caller's headers are copied, never mutated, to add the trace header. The patch is a plain function
around `urlopen` (no wrapt): urllib3 is imported at init by boto3 and requests.
"""

from __future__ import annotations

import functools
import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from lambda_tracing.failures import log_failure
from lambda_tracing.patches.layer_recorder import is_untraced
from lambda_tracing.propagation import header as trace_header
from lambda_tracing.propagation import http

log = logging.getLogger(__name__)

_PATCHED = "_lambda_tracing_patched"
_OUTBOUND_NAMESPACES = ("aws", "remote")
_HEADERS_POSITION = 3  # urlopen(method, url, body, headers, ...)


def patch() -> None:
    """Instrument urllib3 (idempotent)."""
    import urllib3.connectionpool

    if getattr(urllib3.connectionpool, _PATCHED, False):
        return
    pool_class = urllib3.connectionpool.HTTPConnectionPool
    urlopen = pool_class.__dict__["urlopen"]

    @functools.wraps(urlopen)
    def traced_urlopen(self: Any, *args: Any, **kwargs: Any) -> Any:
        return _traced_urlopen(functools.partial(urlopen, self), self, args, kwargs)

    setattr(pool_class, "urlopen", traced_urlopen)  # noqa: B010 - mypy: method assignment
    setattr(urllib3.connectionpool, _PATCHED, True)


def _traced_urlopen(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    if is_untraced():
        return wrapped(*args, **kwargs)
    # The call itself is made outside the `try`: its own exception is the caller's, and a
    # failed call must never be made a second time.
    record = False
    try:
        recorder = trace_header.layer_recorder()
        entity = recorder.get_trace_entity() if recorder is not None else None
        if entity is None or getattr(entity, "namespace", None) in _OUTBOUND_NAMESPACES:
            pass  # untraced, or already a node with headers sent
        elif trace_header.for_entity(entity) is None:
            pass  # no trace: nothing to record or propagate
        elif not getattr(entity, "sampled", False):
            args, kwargs = _with_trace_header(instance, args, kwargs, entity)  # Sampled=0
        else:
            url = _full_url(instance, _argument(args, kwargs, 1, "url"))
            record = True
    except Exception as error:  # said once at warning: a call left out of the trace
        log_failure("tracing a urllib3 call", error)
    if not record:
        return wrapped(*args, **kwargs)

    def send(*call_args: Any, **call_kwargs: Any) -> Any:
        subsegment = recorder.current_subsegment()
        call_args, call_kwargs = _with_trace_header(instance, call_args, call_kwargs, subsegment)
        return wrapped(*call_args, **call_kwargs)

    return recorder.record_subsegment(
        send,
        instance,
        args,
        kwargs,
        name=urlsplit(url).hostname or "unknown host",
        namespace="remote",
        meta_processor=_http_meta(url),
    )


def _http_meta(url: str) -> Any:
    def processor(
        args: Any,
        kwargs: Any,
        return_value: Any,
        exception: Any,
        subsegment: Any,
        stack: Any,
        **_: Any,
    ) -> None:
        from aws_xray_sdk.core.models import http as xray_http

        subsegment.put_http_meta(xray_http.METHOD, str(_argument(args, kwargs, 0, "method")))
        subsegment.put_http_meta(xray_http.URL, url)
        status = getattr(return_value, "status", None)
        if isinstance(status, int):
            subsegment.put_http_meta(xray_http.STATUS, status)
        elif exception is not None:
            subsegment.add_exception(exception, stack, remote=False)

    return processor


def _argument(args: Any, kwargs: Any, position: int, name: str) -> Any:
    return args[position] if len(args) > position else kwargs.get(name)


def _full_url(pool: Any, url: Any) -> str:
    """Absolute URL without credentials, query or fragment (X-Ray's http.request.url)."""
    text = str(url or "/")
    if "://" not in text:
        default_port = {"http": 80, "https": 443}.get(pool.scheme)
        port = "" if pool.port in (None, default_port) else f":{pool.port}"
        text = f"{pool.scheme}://{pool.host}{port}{text if text.startswith('/') else '/' + text}"
    parts = urlsplit(text)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _with_trace_header(pool: Any, args: Any, kwargs: Any, entity: Any) -> tuple[Any, Any]:
    """`args`/`kwargs` with headers that carry the trace; the caller's mapping is not mutated."""
    try:
        headers = _argument(args, kwargs, _HEADERS_POSITION, "headers")
        if headers is None:
            headers = pool.headers  # what urlopen itself would send
        if http.has_trace_header(headers):
            return args, kwargs
        from urllib3 import HTTPHeaderDict

        if isinstance(headers, HTTPHeaderDict):
            new_headers: Any = HTTPHeaderDict(headers)
        elif type(headers) is dict:
            new_headers = dict(headers)
        else:  # a caller's own mapping type (botocore's): copying could change what it sends
            return args, kwargs
        http.inject(new_headers, entity)
        if len(args) > _HEADERS_POSITION:
            args = (*args[:_HEADERS_POSITION], new_headers, *args[_HEADERS_POSITION + 1 :])
        else:
            kwargs = {**kwargs, "headers": new_headers}
    except Exception:
        log.debug("trace header not added", exc_info=True)
    return args, kwargs
