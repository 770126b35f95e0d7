"""SNS: the `AWSTraceHeader` message attribute propagation.aws adds on Publish, per record."""

from __future__ import annotations

from typing import Any

from lambda_tracing.sources.fields import batch, first_record_source, text
from lambda_tracing.sources.links import Link

NAME = "aws:sns"
TRACE_ATTRIBUTE = "AWSTraceHeader"
records = batch


def matches(event: dict[str, Any]) -> bool:
    return first_record_source(event) == NAME


def link(record: Any) -> Link:
    return Link.from_header(
        NAME,
        text(record, "Sns", "MessageAttributes", TRACE_ATTRIBUTE, "Value"),
        record_id=text(record, "Sns", "MessageId"),
        resource=text(record, "Sns", "TopicArn"),
    )
