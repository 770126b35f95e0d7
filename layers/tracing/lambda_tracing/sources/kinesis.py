"""Kinesis: records carry no trace context, so each link is the record's identity.

The producer's PutRecord subsegment records the same shard and sequence number (patches.botocore),
which is what joins the two.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from lambda_tracing.sources.http_request import safe
from lambda_tracing.sources.links import Link, first_record_source

NAME = "aws:kinesis"


def matches(event: Mapping[str, Any]) -> bool:
    return first_record_source(event) == NAME


def record_links(event: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], Link]]:
    from aws_lambda_powertools.utilities.data_classes import KinesisStreamEvent

    for record in KinesisStreamEvent(dict(event)).records:
        yield record.raw_event, _link(record)


def _link(record: Any) -> Link:
    event_id = safe(lambda: record.event_id) or ""
    shard_id = event_id.split(":", 1)[0] if ":" in event_id else None
    attributes = {
        key: value
        for key, value in (
            ("shard_id", shard_id),
            ("partition_key", safe(lambda: record.kinesis.partition_key)),
        )
        if value
    }
    return Link(
        NAME,
        record_id=safe(lambda: record.kinesis.sequence_number),
        resource=safe(lambda: record.event_source_arn),
        attributes=attributes,
    )
