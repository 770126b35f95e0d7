"""OTLP spans -> the segment documents X-Ray makes of them.

One document per span, as the OpenTelemetry collector's awsxrayexporter writes them and X-Ray
assembles them: server and consumer spans (and spans with no parent) are segments; client,
producer and internal spans are subsegments sent apart from their segment (type
"subsegment", with trace_id and parent_id), which the store puts back under their parent
when a trace is read. The parts of each document come from fields.py; OTLP.md beside this
package is the mapping, with the source of each row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from ..documents import Document
from .fields import (
    CALL_KINDS,
    Attributes,
    SpanRejected,
    annotations_and_metadata,
    attributes_of,
    call_fields,
    cause_of,
    clean_name,
    derived_id,
    http_block,
    links_of,
    outcome,
    segment_fields,
    service_name,
    span_id_of,
    xray_trace_id,
)

# X-Ray's OTLP endpoint limits (X-Ray endpoints and quotas, Transaction Search): a span of at
# most 200 KB, at most 10,000 spans a request, timestamps from 14 days ago to 2 hours ahead.
MAX_SPAN_BYTES = 200 * 1024
MAX_SPANS_PER_REQUEST = 10_000
MAX_AGE_SECONDS = 14 * 24 * 3600
MAX_AHEAD_SECONDS = 2 * 3600
MAX_MESSAGES = 100  # rejections described per request; the rest are counted
SEGMENT_KINDS = (Span.SPAN_KIND_SERVER, Span.SPAN_KIND_CONSUMER)
# What moves from a local root client span's segment to its dependency subsegment.
DEPENDENCY_FIELDS = ("http", "cause", "annotations", "links")


@dataclass
class Converted:
    documents: list[Document] = field(default_factory=list)
    rejected: int = 0
    messages: list[str] = field(default_factory=list)  # the first MAX_MESSAGES rejections

    def reject(self, message: str) -> None:
        self.rejected += 1
        if len(self.messages) < MAX_MESSAGES:
            self.messages.append(message)


def count_spans(request: ExportTraceServiceRequest) -> int:
    return sum(
        len(scope.spans) for resource in request.resource_spans for scope in resource.scope_spans
    )


def convert_request(request: ExportTraceServiceRequest, now: float) -> Converted:
    """A document per acceptable span; the others counted and described."""
    result = Converted()
    for resource_spans in request.resource_spans:
        resource = attributes_of(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                try:
                    result.documents.append(convert_span(span, resource, now))
                except SpanRejected as error:
                    result.reject(f"otlp: span {span.span_id.hex() or '(no id)'}: {error}")
                except Exception as error:  # a conversion bug costs this span, not the rest
                    result.reject(f"otlp: span {span.span_id.hex()} not converted: {error!r}")
    return result


def times_of(span: Span, now: float) -> tuple[float, float]:
    """Start and end in seconds, inside X-Ray's limits."""
    start, end = span.start_time_unix_nano / 1e9, span.end_time_unix_nano / 1e9
    if not span.start_time_unix_nano or not span.end_time_unix_nano:
        raise SpanRejected("start or end time is missing")
    if end < start:
        raise SpanRejected("ends before it starts")
    if start < now - MAX_AGE_SECONDS:
        raise SpanRejected("starts more than 14 days ago (X-Ray's limit)")
    if end > now + MAX_AHEAD_SECONDS:
        raise SpanRejected("ends more than 2 hours ahead (X-Ray's limit)")
    return start, end


# -- the document --------------------------------------------------------------------------


def convert_span(span: Span, resource: dict[str, Any], now: float) -> Document:
    """The segment or streamed subsegment X-Ray makes of one span."""
    size = span.ByteSize()
    if size > MAX_SPAN_BYTES:
        raise SpanRejected(f"{size} bytes, over X-Ray's 200 KB per span")
    trace_id = xray_trace_id(span.trace_id)
    span_id = span_id_of(span.span_id)
    parent_id = span_id_of(span.parent_span_id, "parent span id") if span.parent_span_id else None
    start, end = times_of(span, now)
    attributes = Attributes(span.attributes)
    call = call_fields(span, attributes, resource) if span.kind in CALL_KINDS else {}
    http = call.pop("http", None) if span.kind in CALL_KINDS else http_block(attributes)
    status = ((http or {}).get("response") or {}).get("status")
    element: dict[str, Any] = {"id": span_id, "start_time": start, "end_time": end}
    element.update(outcome(span, status))
    cause = cause_of(span, span_id)
    if cause:
        element["cause"] = cause
    if http:
        element["http"] = http
    is_segment = span.kind in SEGMENT_KINDS or parent_id is None
    user = attributes.take("enduser.id") if is_segment else None
    element.update(annotations_and_metadata(attributes, resource if is_segment else None))
    links = links_of(span)
    if links:
        element["links"] = links
    if not is_segment:
        element["name"] = clean_name(call.pop("name", None) or span.name)
        element.update(call, trace_id=trace_id, parent_id=parent_id, type="subsegment")
        return element
    segment: dict[str, Any] = {
        "trace_id": trace_id,
        "name": clean_name(service_name(resource) or span.name),
        **element,
        **segment_fields(resource),
    }
    if user:
        segment["user"] = str(user)
    if parent_id:
        segment["parent_id"] = parent_id
    if span.kind in CALL_KINDS:
        # A call with no parent here (a script's request): X-Ray shows the service as a
        # segment, with an id of its own, and the call as its subsegment, which keeps the
        # span's id so that the callee's segment points at it (collector: segment.go,
        # MakeServiceSegmentAndDependencySubsegment).
        dependency = {key: segment.pop(key) for key in DEPENDENCY_FIELDS if key in segment}
        dependency.update(call, name=clean_name(call.get("name") or span.name))
        dependency.setdefault("namespace", "remote")
        dependency.update(id=span_id, start_time=start, end_time=end)
        dependency.update(outcome(span, status))
        segment["id"] = derived_id(span_id, "service")
        segment["subsegments"] = [dependency]
    return segment
