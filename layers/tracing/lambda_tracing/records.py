"""`lambda_tracing.records(event)`: iterate a batch, each record processed in its own subsegment.

    for record in lambda_tracing.records(event):
        handle(record)          # calls made here are children of this record's subsegment

Each record's subsegment carries the record's link: the upstream trace it came from (SQS
AWSTraceHeader, SNS attribute, HTTP header) and its identity (see sources.links). Records are the
raw dicts of the event; an event of no known source is iterated through its `Records` list (or
yielded whole), untraced. A subsegment ends when the loop moves on, breaks, or the loop's
exception unwinds it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from lambda_tracing.failures import log_failure

RECORD_SUBSEGMENT = "## record"


def records(event: Any, name: str = RECORD_SUBSEGMENT) -> Iterator[Any]:
    from lambda_tracing.sources import inbound

    found = inbound(event)
    if found is None:
        yield from _untraced(event)
        return
    from lambda_tracing.sources.links import record_on
    from lambda_tracing.subsegments import Subsegment

    for record, link in found.records:
        with Subsegment(name) as span:
            try:
                record_on(span, [link], found.source)
                if span is not None and link.record_id:
                    span.put_annotation("record_id", link.record_id[:1000])
            except Exception as failure:  # noqa: BLE001
                log_failure("recording a record's link", failure)
            yield record


def _untraced(event: Any) -> Iterator[Any]:
    batch = event.get("Records") if isinstance(event, Mapping) else None
    if isinstance(batch, list):
        yield from batch
    else:
        yield event
