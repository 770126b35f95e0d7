"""Outbound HTTP headers: X-Amzn-Trace-Id always, W3C traceparent when configured (or in OTLP
mode).

`inject` has the signature of aws-xray-sdk's `inject_trace_header`, so the SDK's own patchers
(requests, httpx, botocore) write headers through this one place.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from lambda_tracing.propagation import header as trace_header

log = logging.getLogger(__name__)

TRACEPARENT = "traceparent"

_w3c: bool | None = None


def set_w3c(enabled: bool | None) -> None:
    """Force W3C propagation on/off; None goes back to reading the layer's settings."""
    global _w3c
    _w3c = enabled


def w3c_enabled() -> bool:
    global _w3c
    if _w3c is None:
        try:
            from lambda_tracing import config

            settings = config.load()
            _w3c = bool(settings.propagate_w3c or settings.exporter == "otlp")
        except Exception:  # settings not available: the safe default is X-Ray only
            _w3c = False
    return _w3c


def inject(headers: MutableMapping[str, Any], entity: Any) -> None:
    """Write the trace headers for a call made inside `entity`; never raises."""
    try:
        text = trace_header.text_for_entity(entity)
        if text is None:
            return
        headers[trace_header.XRAY_HEADER] = text
        if w3c_enabled():
            traceparent = trace_header.traceparent_for_entity(entity)
            if traceparent:
                headers[TRACEPARENT] = traceparent
    except Exception:
        log.debug("trace header not injected", exc_info=True)


def inject_unless_present(headers: MutableMapping[str, Any], entity: Any) -> None:
    """`inject`, unless the caller set a trace header of its own on this request: theirs
    stands (HTTP clients; the botocore patch overwrites the header botocore copies from
    Lambda's environment)."""
    try:
        if has_trace_header(headers):
            return
    except Exception:
        log.debug("trace header not checked", exc_info=True)
        return
    inject(headers, entity)


def has_trace_header(headers: Any) -> bool:
    """True if a header (any case) already carries a trace, so a lower layer leaves it alone."""
    if not headers:
        return False
    wanted = trace_header.XRAY_HEADER.lower()
    return any(str(name).lower() == wanted for name in headers)
