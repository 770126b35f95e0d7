"""S3 notifications: no trace context in the record, so each link is the object's identity.

The producer's PutObject subsegment records bucket and key (aws-xray-sdk's parameter whitelist).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from lambda_tracing.sources.fields import batch, child, first_record_source, text
from lambda_tracing.sources.links import Link

NAME = "aws:s3"
records = batch


def matches(event: dict[str, Any]) -> bool:
    return first_record_source(event) == NAME


def link(record: Any) -> Link:
    s3 = child(record, "s3")
    attributes = {
        key: value
        for key, value in (
            ("bucket", text(s3, "bucket", "name")),
            ("key", _key(text(s3, "object", "key"))),
            ("sequencer", text(s3, "object", "sequencer")),
            ("event_name", text(record, "eventName")),
        )
        if value
    }
    return Link(
        NAME,
        record_id=text(s3, "object", "eTag"),
        resource=text(s3, "bucket", "arn"),
        attributes=attributes,
    )


def _key(key: str | None) -> str | None:
    """The object key as the producer wrote it: notifications URL-encode it."""
    return unquote_plus(key) if key else None
