"""One X-Ray trace as a tree of spans: segments joined by `parent_id`, subsegments by nesting."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Timestamps carry microseconds at best; this much overrun is rounding, not an async hop.
OVERRUN_TOLERANCE_S = 1e-6


class TraceError(ValueError):
    """The trace cannot be drawn; the message is one line for people."""


@dataclass
class Span:
    id: str
    name: str
    start: float
    end: float
    document: dict[str, Any]
    segment: bool
    parent_id: str | None = None
    in_progress: bool = False
    children: list[Span] = field(default_factory=list)
    depth: int = 0
    parent: Span | None = None

    @property
    def duration_ms(self) -> float:
        return (self.end - self.start) * 1000

    @property
    def status(self) -> str:
        """fault, throttle, error or ok, from the flags and the HTTP status."""
        doc = self.document
        code = ((doc.get("http") or {}).get("response") or {}).get("status")
        code = code if isinstance(code, int) else 0
        if doc.get("fault") or code >= 500:
            return "fault"
        if doc.get("throttle") or code == 429:
            return "throttle"
        if doc.get("error") or 400 <= code < 500:
            return "error"
        return "ok"

    @property
    def is_async(self) -> bool:
        """True when this span outlives its parent: the work continued after the caller moved on."""
        return self.parent is not None and self.end > self.parent.end + OVERRUN_TOLERANCE_S

    @property
    def is_early(self) -> bool:
        """True when this span starts before its parent (Lambda's Initialization subsegment
        precedes the function segment it belongs to)."""
        return self.parent is not None and self.start < self.parent.start - OVERRUN_TOLERANCE_S


@dataclass
class Trace:
    id: str
    roots: list[Span]
    spans: list[Span]

    @property
    def start(self) -> float:
        return min(span.start for span in self.spans)

    @property
    def end(self) -> float:
        return max(span.end for span in self.spans)


def _document(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as error:
            raise TraceError(f"a segment document is not valid JSON: {error}") from None
    if not isinstance(raw, dict):
        raise TraceError("a segment document is not a JSON object")
    return raw


def _span(doc: dict[str, Any], segment: bool, parent_id: str | None) -> Span:
    start = doc.get("start_time")
    if not isinstance(start, int | float):
        raise TraceError(f"segment {doc.get('id', '?')!r} has no start_time")
    end = doc.get("end_time")
    in_progress = not isinstance(end, int | float)
    return Span(
        id=str(doc.get("id", "")),
        name=str(doc.get("name", "?")),
        start=float(start),
        end=float(start) if in_progress else float(end),  # type: ignore[arg-type]
        document=doc,
        segment=segment,
        parent_id=doc.get("parent_id") or parent_id,
        in_progress=in_progress,
    )


def _collect(doc: dict[str, Any], segment: bool, parent_id: str | None, out: list[Span]) -> None:
    span = _span(doc, segment, parent_id)
    out.append(span)
    for child in doc.get("subsegments") or []:
        if isinstance(child, dict):
            _collect(child, False, span.id, out)


def read_trace(trace: dict[str, Any]) -> Trace:
    """Build the span tree of one BatchGetTraces `Traces[]` item (documents as strings or dicts)."""
    if not isinstance(trace, dict) or not isinstance(trace.get("Segments"), list):
        raise TraceError("not a trace: expected an object with a Segments list")
    spans: list[Span] = []
    for segment in trace["Segments"]:
        if not isinstance(segment, dict) or "Document" not in segment:
            raise TraceError("a trace segment has no Document")
        _collect(_document(segment["Document"]), True, None, spans)
    if not spans:
        raise TraceError(f"trace {trace.get('Id', '?')} has no segments")
    end = max(span.end for span in spans)
    by_id = {span.id: span for span in spans}
    roots = []
    for span in spans:
        if span.in_progress:
            span.end = max(span.end, end)  # still running: draw it to the end of what we know
        parent = by_id.get(span.parent_id or "")
        if parent is None or parent is span:
            roots.append(span)
        else:
            span.parent = parent
            parent.children.append(span)
    for span in spans:
        span.depth = -1
    _set_depths(roots)
    if any(span.depth < 0 for span in spans):  # a parent_id cycle: it never reaches a root
        raise TraceError("segment parent_ids form a cycle")
    for span in spans:
        span.children.sort(key=lambda child: (child.start, child.end))
    roots.sort(key=lambda span: span.start)
    return Trace(id=str(trace.get("Id", "")), roots=roots, spans=spans)


def _set_depths(roots: list[Span]) -> None:
    stack = [(root, 0) for root in roots]
    while stack:
        span, depth = stack.pop()
        span.depth = depth
        stack.extend((child, depth + 1) for child in span.children)
