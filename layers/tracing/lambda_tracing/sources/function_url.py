"""Lambda function URL (format 2.0 on a `*.lambda-url.*` domain): the request's trace header."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from lambda_tracing.sources.api_gateway_http import FUNCTION_URL_DOMAIN
from lambda_tracing.sources.http_request import request_context, request_link, safe
from lambda_tracing.sources.links import Link

NAME = "aws:lambda:url"


def matches(event: Mapping[str, Any]) -> bool:
    context = request_context(event)
    return event.get("version") == "2.0" and FUNCTION_URL_DOMAIN in str(context.get("domainName"))


def record_links(event: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], Link]]:
    from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent

    proxy = LambdaFunctionUrlEvent(dict(event))
    context = proxy.request_context
    yield (
        event,
        request_link(
            NAME, proxy, safe(lambda: context.request_id), safe(lambda: context.domain_name)
        ),
    )
