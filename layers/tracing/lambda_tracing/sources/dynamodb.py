"""DynamoDB Streams: no trace context in the stream, so each link is the change's identity."""

from __future__ import annotations

from typing import Any

from lambda_tracing.sources.fields import batch, first_record_source, text
from lambda_tracing.sources.links import Link

NAME = "aws:dynamodb"
records = batch


def matches(event: dict[str, Any]) -> bool:
    return first_record_source(event) == NAME


def link(record: Any) -> Link:
    # Identity only: the images are user data.
    sequence = text(record, "dynamodb", "SequenceNumber")
    return Link(
        NAME,
        record_id=text(record, "eventID"),
        resource=text(record, "eventSourceARN"),
        attributes={"sequence_number": sequence} if sequence else {},
    )
