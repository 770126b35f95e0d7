"""API Gateway HTTP API (payload format 2.0): the request's trace header."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from lambda_tracing.sources.http_request import request_context, request_link, safe
from lambda_tracing.sources.links import Link

NAME = "aws:apigateway:http"
FUNCTION_URL_DOMAIN = ".lambda-url."


def matches(event: Mapping[str, Any]) -> bool:
    context = request_context(event)
    domain = str(context.get("domainName") or "")
    return event.get("version") == "2.0" and "http" in context and FUNCTION_URL_DOMAIN not in domain


def record_links(event: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], Link]]:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

    proxy = APIGatewayProxyEventV2(dict(event))
    context = proxy.request_context
    yield (
        event,
        request_link(NAME, proxy, safe(lambda: context.request_id), safe(lambda: context.api_id)),
    )
