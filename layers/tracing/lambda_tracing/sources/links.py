"""Links: where an invocation's input came from, recorded so the summary and local map can follow.

A link names the upstream trace (from the record's trace header) when there is one, and always the
record's identity (message id, sequence number, object key), so producers that cannot carry a
header (Kinesis, S3, DynamoDB) can still be joined by what both sides recorded.

On a span a link becomes metadata `lambda_tracing.links` (in record order) and the annotations
`event_source` and `upstream_trace_ids` (distinct trace ids, comma-separated, whole ids only,
within X-Ray's 1,000-character annotation limit), so `annotation.upstream_trace_ids CONTAINS
"..."` finds the consumers of a trace. A span carries at most `MAX_LINKS` links: X-Ray links one
trace segment to at most 20 traces ("Tracing event-driven applications", X-Ray developer guide);
the rest of a batch is counted in `links_dropped`, never read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from lambda_tracing.propagation import header as trace_header

METADATA_NAMESPACE = "lambda_tracing"
MAX_ANNOTATION_LENGTH = 1000
MAX_LINKS = 20
_NO_ATTRIBUTES: Mapping[str, str] = MappingProxyType({})


# A NamedTuple, not a dataclass: this module loads on the first batch event, and making a
# dataclass costs about a millisecond.
class Link(NamedTuple):
    source: str
    trace_id: str | None = None
    parent_id: str | None = None
    sampled: int | None = None
    record_id: str | None = None
    resource: str | None = None
    attributes: Mapping[str, str] = _NO_ATTRIBUTES

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


def record_on(
    span: Any, links: Iterable[Link], source: str | None = None, total: int | None = None
) -> None:
    """Put the first MAX_LINKS of `links` on `span` as metadata and annotations, and how many
    of `total` records were left out (no-op for a None/unsampled span)."""
    if span is None or not getattr(span, "sampled", True):
        return
    kept: list[Link] = []
    for link in links:
        if len(kept) == MAX_LINKS:
            break
        kept.append(link)
    if source:
        span.put_annotation("event_source", source)
    traces = upstream_trace_ids(kept)
    if traces:
        span.put_annotation("upstream_trace_ids", traces)
    if kept:
        span.put_metadata("links", [link.to_dict() for link in kept], METADATA_NAMESPACE)
    if total is not None and total > len(kept):
        span.put_metadata("links_dropped", total - len(kept), METADATA_NAMESPACE)
