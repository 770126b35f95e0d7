"""Application Load Balancer target: the request's trace header (ALB's `Self=` is ignored)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from lambda_tracing.sources.http_request import request_context, request_link, safe
from lambda_tracing.sources.links import Link

NAME = "aws:elb"


def matches(event: Mapping[str, Any]) -> bool:
    return "elb" in request_context(event)


def record_links(event: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], Link]]:
    from aws_lambda_powertools.utilities.data_classes import ALBEvent

    proxy = ALBEvent(dict(event))
    target_group = safe(lambda: proxy.request_context.elb_target_group_arn)
    yield event, request_link(NAME, proxy, None, target_group)
