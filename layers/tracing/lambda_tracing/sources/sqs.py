"""SQS: every record's `AWSTraceHeader` system attribute, not only the first record's.

A message that came through SNS with raw delivery carries the header as a message attribute
instead (the one propagation.aws adds on Publish), read when the system attribute is absent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from lambda_tracing.sources.http_request import safe
from lambda_tracing.sources.links import Link, first_record_source

NAME = "aws:sqs"
TRACE_ATTRIBUTE = "AWSTraceHeader"


def matches(event: Mapping[str, Any]) -> bool:
    return first_record_source(event) == NAME


def record_links(event: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], Link]]:
    from aws_lambda_powertools.utilities.data_classes import SQSEvent

    for record in SQSEvent(dict(event)).records:
        yield record.raw_event, _link(record)


def _link(record: Any) -> Link:
    value = safe(lambda: record.attributes.aws_trace_header)
    if value is None:
        value = safe(lambda: record.message_attributes[TRACE_ATTRIBUTE].string_value)
    return Link.from_header(
        NAME,
        value,
        record_id=safe(lambda: record.message_id),
        resource=safe(lambda: record.event_source_arn),
    )
