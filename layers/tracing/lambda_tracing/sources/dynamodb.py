"""DynamoDB Streams: no trace context in the stream, so each link is the change's identity."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from lambda_tracing.sources.http_request import safe
from lambda_tracing.sources.links import Link, first_record_source

NAME = "aws:dynamodb"


def matches(event: Mapping[str, Any]) -> bool:
    return first_record_source(event) == NAME


def record_links(event: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], Link]]:
    from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

    for record in DynamoDBStreamEvent(dict(event)).records:
        yield record.raw_event, _link(record)


def _link(record: Any) -> Link:
    # Identity only: the images would need boto3's TypeDeserializer and are user data.
    sequence = safe(lambda: record.dynamodb.sequence_number)
    return Link(
        NAME,
        record_id=safe(lambda: record.event_id),
        resource=safe(lambda: record.event_source_arn),
        attributes={"sequence_number": sequence} if sequence else {},
    )
