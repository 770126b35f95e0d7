"""What the HTTP event sources share: the request is the record, its X-Amzn-Trace-Id the link."""

from __future__ import annotations

from typing import Any

from lambda_tracing.sources.fields import child, trace_header
from lambda_tracing.sources.links import Link


def request_context(event: Any) -> dict[str, Any]:
    return child(event, "requestContext")


def request_link(source: str, event: Any, request_id: str | None, resource: str | None) -> Link:
    return Link.from_header(source, trace_header(event), record_id=request_id, resource=resource)


def records(event: Any) -> list[Any]:
    return [event]
