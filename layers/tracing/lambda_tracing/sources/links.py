"""Links: where an invocation's input came from, recorded so the summary and local map can follow.

A link names the upstream trace (from the record's trace header) when there is one, and always the
record's identity (message id, sequence number, object key), so producers that cannot carry a
header (Kinesis, S3, DynamoDB) can still be joined by what both sides recorded.

On a span a link becomes metadata `lambda_tracing.links` (every link, in record order) and the
annotations `event_source` and `upstream_trace_ids` (distinct trace ids, comma-separated, as many
as fit X-Ray's 1,000-character annotation limit), so `annotation.upstream_trace_ids CONTAINS "..."`
finds the consumers of a trace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lambda_tracing.propagation import header as trace_header

METADATA_NAMESPACE = "lambda_tracing"
MAX_ANNOTATION_LENGTH = 1000


@dataclass(frozen=True)
class Link:
    source: str
    trace_id: str | None = None
    parent_id: str | None = None
    sampled: int | None = None
    record_id: str | None = None
    resource: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_header(cls, source: str, value: object, **identity: Any) -> Link:
        """A link carrying the trace in `value` if it is a valid header, else identity only."""
        parsed = trace_header.parse(value)
        if parsed is None:
            return cls(source, **identity)
        sampled = parsed.sampled if parsed.sampled in (0, 1) else None
        return cls(source, parsed.root, parsed.parent, sampled, **identity)

    def to_dict(self) -> dict[str, Any]:
        fields = {
            "source": self.source,
            "trace_id": self.trace_id,
            "parent_id": self.parent_id,
            "sampled": self.sampled,
            "record_id": self.record_id,
            "resource": self.resource,
        }
        result: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
        if self.attributes:
            result["attributes"] = dict(self.attributes)
        return result


def upstream_trace_ids(links: Iterable[Link]) -> str:
    """Distinct upstream trace ids in order, comma-separated, whole ids only, within 1,000 chars."""
    seen: list[str] = []
    length = 0
    for link in links:
        if link.trace_id and link.trace_id not in seen:
            added = len(link.trace_id) + (1 if seen else 0)
            if length + added > MAX_ANNOTATION_LENGTH:
                break
            seen.append(link.trace_id)
            length += added
    return ",".join(seen)


def record_on(span: Any, links: Iterable[Link], source: str | None = None) -> None:
    """Put `links` on `span` as metadata and annotations (no-op for a None/unsampled span)."""
    if span is None or not getattr(span, "sampled", True):
        return
    links = list(links)
    if source:
        span.put_annotation("event_source", source)
    traces = upstream_trace_ids(links)
    if traces:
        span.put_annotation("upstream_trace_ids", traces)
    if links:
        span.put_metadata("links", [link.to_dict() for link in links], METADATA_NAMESPACE)


def first_record_source(event: Mapping[str, Any]) -> str | None:
    """`eventSource` (or SNS's `EventSource`) of the first record of a batch event, if any."""
    records = event.get("Records")
    if not isinstance(records, list) or not records or not isinstance(records[0], Mapping):
        return None
    source = records[0].get("eventSource") or records[0].get("EventSource")
    return source if isinstance(source, str) else None
