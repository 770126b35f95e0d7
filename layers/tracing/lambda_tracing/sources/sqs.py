"""SQS: every record's `AWSTraceHeader` system attribute, not only the first record's.

A message that came through SNS with raw delivery carries the header as a message attribute
instead (the one propagation.aws adds on Publish), read when the system attribute is absent.
"""

from __future__ import annotations

from typing import Any

from lambda_tracing.sources.fields import batch, first_record_source, text
from lambda_tracing.sources.links import Link

NAME = "aws:sqs"
TRACE_ATTRIBUTE = "AWSTraceHeader"
records = batch


def matches(event: dict[str, Any]) -> bool:
    return first_record_source(event) == NAME


def link(record: Any) -> Link:
    value = text(record, "attributes", TRACE_ATTRIBUTE)
    if value is None:
        value = text(record, "messageAttributes", TRACE_ATTRIBUTE, "stringValue")
    return Link.from_header(
        NAME, value, record_id=text(record, "messageId"), resource=text(record, "eventSourceARN")
    )
