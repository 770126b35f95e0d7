"""S3 notifications: no trace context in the record, so each link is the object's identity.

The producer's PutObject subsegment records bucket and key (aws-xray-sdk's parameter whitelist).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from lambda_tracing.sources.http_request import safe
from lambda_tracing.sources.links import Link, first_record_source

NAME = "aws:s3"


def matches(event: Mapping[str, Any]) -> bool:
    return first_record_source(event) == NAME


def record_links(event: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], Link]]:
    from aws_lambda_powertools.utilities.data_classes import S3Event

    for record in S3Event(dict(event)).records:
        yield record.raw_event, _link(record)


def _link(record: Any) -> Link:
    s3 = record.s3
    attributes = {
        key: value
        for key, value in (
            ("bucket", safe(lambda: s3.bucket.name)),
            ("key", safe(lambda: s3.get_object.key)),
            ("sequencer", safe(lambda: s3.get_object.sequencer)),
            ("event_name", safe(lambda: record.event_name)),
        )
        if value
    }
    return Link(
        NAME,
        record_id=safe(lambda: s3.get_object.etag),
        resource=safe(lambda: s3.bucket.arn),
        attributes=attributes,
    )
