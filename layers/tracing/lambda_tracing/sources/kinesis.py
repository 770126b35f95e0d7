"""Kinesis: records carry no trace context, so each link is the record's identity.

The producer's PutRecord subsegment records the same shard and sequence number (patches.botocore),
which is what joins the two.
"""

from __future__ import annotations

from typing import Any

from lambda_tracing.sources.fields import batch, first_record_source, text
from lambda_tracing.sources.links import Link

NAME = "aws:kinesis"
records = batch


def matches(event: dict[str, Any]) -> bool:
    return first_record_source(event) == NAME


def link(record: Any) -> Link:
    event_id = text(record, "eventID") or ""
    shard_id = event_id.split(":", 1)[0] if ":" in event_id else None
    attributes = {
        key: value
        for key, value in (
            ("shard_id", shard_id),
            ("partition_key", text(record, "kinesis", "partitionKey")),
        )
        if value
    }
    return Link(
        NAME,
        record_id=text(record, "kinesis", "sequenceNumber"),
        resource=text(record, "eventSourceARN"),
        attributes=attributes,
    )
