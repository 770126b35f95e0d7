"""API Gateway HTTP API (payload format 2.0): the request's trace header."""

from __future__ import annotations

from typing import Any

from lambda_tracing.sources.fields import text
from lambda_tracing.sources.http_request import records, request_context, request_link
from lambda_tracing.sources.links import Link

NAME = "aws:apigateway:http"
FUNCTION_URL_DOMAIN = ".lambda-url."
__all__ = ["FUNCTION_URL_DOMAIN", "NAME", "link", "matches", "records"]


def matches(event: dict[str, Any]) -> bool:
    context = request_context(event)
    domain = text(context, "domainName") or ""
    return event.get("version") == "2.0" and "http" in context and FUNCTION_URL_DOMAIN not in domain


def link(event: Any) -> Link:
    context = request_context(event)
    return request_link(NAME, event, text(context, "requestId"), text(context, "apiId"))
