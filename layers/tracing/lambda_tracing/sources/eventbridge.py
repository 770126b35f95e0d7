"""EventBridge: the event's identity.

EventBridge hands the PutEvents entry's `TraceHeader` (set by propagation.aws) to its targets as
the invocation's own trace header, so the trace continues without anything in the event itself.
"""

from __future__ import annotations

from typing import Any

from lambda_tracing.sources.fields import text
from lambda_tracing.sources.http_request import records
from lambda_tracing.sources.links import Link

NAME = "aws:events"
_MAX_RESOURCES = 20
__all__ = ["NAME", "link", "matches", "records"]


def matches(event: dict[str, Any]) -> bool:
    return "detail-type" in event and "source" in event and "detail" in event


def link(event: Any) -> Link:
    attributes = {
        key: value
        for key, value in (
            ("source", text(event, "source")),
            ("detail_type", text(event, "detail-type")),
        )
        if value
    }
    resources = event.get("resources") if type(event) is dict else None
    names = (
        [name for name in resources[:_MAX_RESOURCES] if type(name) is str]
        if type(resources) is list
        else []
    )
    return Link(
        NAME, record_id=text(event, "id"), resource=",".join(names) or None, attributes=attributes
    )
