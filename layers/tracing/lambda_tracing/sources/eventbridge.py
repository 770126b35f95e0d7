"""EventBridge: the event's identity.

EventBridge hands the PutEvents entry's `TraceHeader` (set by propagation.aws) to its targets as
the invocation's own trace header, so the trace continues without anything in the event itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from lambda_tracing.sources.http_request import safe
from lambda_tracing.sources.links import Link

NAME = "aws:events"


def matches(event: Mapping[str, Any]) -> bool:
    return "detail-type" in event and "source" in event and "detail" in event


def record_links(event: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], Link]]:
    from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

    bridged = EventBridgeEvent(dict(event))
    attributes = {
        key: value
        for key, value in (
            ("source", safe(lambda: bridged.source)),
            ("detail_type", safe(lambda: bridged.detail_type)),
        )
        if value
    }
    resources = safe(lambda: ",".join(bridged.resources)) if event.get("resources") else None
    event_id = safe(lambda: bridged.get_id)
    yield event, Link(NAME, record_id=event_id, resource=resources, attributes=attributes)
