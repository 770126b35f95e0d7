"""API Gateway REST API (payload format 1.0): the request's trace header."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from lambda_tracing.sources.http_request import request_context, request_link, safe
from lambda_tracing.sources.links import Link

NAME = "aws:apigateway:rest"


def matches(event: Mapping[str, Any]) -> bool:
    context = request_context(event)
    if not context or "elb" in context or "http" in context:
        return False
    return "httpMethod" in event


def record_links(event: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], Link]]:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

    proxy = APIGatewayProxyEvent(dict(event))
    context = proxy.request_context
    yield (
        event,
        request_link(NAME, proxy, safe(lambda: context.request_id), safe(lambda: context.api_id)),
    )
