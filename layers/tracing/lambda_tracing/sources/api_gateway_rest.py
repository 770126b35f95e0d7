"""API Gateway REST API (payload format 1.0): the request's trace header."""

from __future__ import annotations

from typing import Any

from lambda_tracing.sources.fields import text
from lambda_tracing.sources.http_request import records, request_context, request_link
from lambda_tracing.sources.links import Link

NAME = "aws:apigateway:rest"
__all__ = ["NAME", "link", "matches", "records"]


def matches(event: dict[str, Any]) -> bool:
    context = request_context(event)
    if not context or "elb" in context or "http" in context:
        return False
    return "httpMethod" in event


def link(event: Any) -> Link:
    context = request_context(event)
    return request_link(NAME, event, text(context, "requestId"), text(context, "apiId"))
