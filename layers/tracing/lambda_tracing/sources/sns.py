"""SNS: the `AWSTraceHeader` message attribute propagation.aws adds on Publish, per record."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from lambda_tracing.sources.http_request import safe
from lambda_tracing.sources.links import Link, first_record_source

NAME = "aws:sns"
TRACE_ATTRIBUTE = "AWSTraceHeader"


def matches(event: Mapping[str, Any]) -> bool:
    return first_record_source(event) == NAME


def record_links(event: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], Link]]:
    from aws_lambda_powertools.utilities.data_classes import SNSEvent

    for record in SNSEvent(dict(event)).records:
        yield record.raw_event, _link(record.sns)


def _link(message: Any) -> Link:
    return Link.from_header(
        NAME,
        safe(lambda: message.message_attributes[TRACE_ATTRIBUTE].value),
        record_id=safe(lambda: message.message_id),
        resource=safe(lambda: message.topic_arn),
    )
