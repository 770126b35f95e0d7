"""What the HTTP event sources share: the caller's X-Amzn-Trace-Id request header as a link."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lambda_tracing.propagation.header import XRAY_HEADER
from lambda_tracing.sources.links import Link


def header_value(proxy_event: Any, name: str = XRAY_HEADER) -> str | None:
    """A request header, case-insensitive, from `headers` or (ALB, REST) `multiValueHeaders`."""
    value = proxy_event.headers.get(name)
    if value is None and hasattr(proxy_event, "multi_value_headers"):
        values = proxy_event.multi_value_headers.get(name)
        value = values[-1] if isinstance(values, list) and values else None
    return value if isinstance(value, str) else None


def request_link(
    source: str, proxy_event: Any, request_id: str | None, resource: str | None
) -> Link:
    return Link.from_header(
        source, header_value(proxy_event), record_id=request_id or None, resource=resource or None
    )


def request_context(event: Mapping[str, Any]) -> Mapping[str, Any]:
    context = event.get("requestContext")
    return context if isinstance(context, Mapping) else {}


def safe(getter: Callable[[], Any]) -> str | None:
    """A Powertools property that may be missing from an odd event, as a string or None."""
    try:
        value = getter()
    except (KeyError, TypeError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None
