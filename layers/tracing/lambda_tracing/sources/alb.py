"""Application Load Balancer target: the request's trace header (ALB's `Self=` is ignored)."""

from __future__ import annotations

from typing import Any

from lambda_tracing.sources.fields import text
from lambda_tracing.sources.http_request import records, request_context, request_link
from lambda_tracing.sources.links import Link

NAME = "aws:elb"
__all__ = ["NAME", "link", "matches", "records"]


def matches(event: dict[str, Any]) -> bool:
    return "elb" in request_context(event)


def link(event: Any) -> Link:
    target_group = text(request_context(event), "elb", "targetGroupArn")
    return request_link(NAME, event, None, target_group)
