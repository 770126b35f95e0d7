"""Lambda function URL (format 2.0 on a `*.lambda-url.*` domain): the request's trace header."""

from __future__ import annotations

from typing import Any

from lambda_tracing.sources.api_gateway_http import FUNCTION_URL_DOMAIN
from lambda_tracing.sources.fields import text
from lambda_tracing.sources.http_request import records, request_context, request_link
from lambda_tracing.sources.links import Link

NAME = "aws:lambda:url"
__all__ = ["NAME", "link", "matches", "records"]


def matches(event: dict[str, Any]) -> bool:
    domain = text(request_context(event), "domainName") or ""
    return event.get("version") == "2.0" and FUNCTION_URL_DOMAIN in domain


def link(event: Any) -> Link:
    context = request_context(event)
    return request_link(NAME, event, text(context, "requestId"), text(context, "domainName"))
