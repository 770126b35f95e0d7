"""Whole traces from stored documents: streamed subsegments put back under their parents,
and the per-trace summary GetTraceSummaries returns."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .documents import Document, filterable_annotation, members, text_field

# Fields a streamed subsegment carries only to find its place; X-Ray drops them on assembly.
STREAMING_FIELDS = ("type", "trace_id", "parent_id")
MAX_PLACED_DEPTH = 64  # subsegment levels under which streamed subsegments are nested


def walk(element: Document) -> Iterator[Document]:
    """The element and all its nested subsegments, depth first."""
    yield element
    for child in element.get("subsegments") or ():
        yield from walk(child)


def assemble(documents: list[Document]) -> list[Document]:
    """The trace's segments with every streamed subsegment nested under its parent.

    Mutates the documents, so pass freshly loaded ones. A streamed subsegment whose parent is
    missing (still in flight, or lost) is left out, as X-Ray does until it arrives.
    """
    segments = [d for d in documents if d.get("type") != "subsegment"]
    pending = sorted(
        (d for d in documents if d.get("type") == "subsegment"), key=lambda d: d["start_time"]
    )
    index: dict[str, Placed] = {}
    for segment in segments:
        _index(segment, 0, segment, index)
    # Streamed subsegments may nest in each other: place them until no more find a parent.
    while pending:
        placed_any = False
        still_pending = []
        for streamed in pending:
            parent = index.get(streamed["parent_id"])
            if parent is None:
                still_pending.append(streamed)
                continue
            placed_any = True
            _place(parent, streamed, index)
        if not placed_any:
            break
        pending = still_pending
    return segments


Placed = tuple[Document, int, Document]  # an element, its depth below its segment, the segment


def _index(element: Document, depth: int, segment: Document, index: dict[str, Placed]) -> None:
    stack = [(element, depth)]
    while stack:
        element, depth = stack.pop()
        index[element["id"]] = (element, depth, segment)
        stack.extend((child, depth + 1) for child in element.get("subsegments") or ())


def _place(parent: Placed, streamed: Document, index: dict[str, Placed]) -> None:
    element, depth, segment = parent
    child = {k: v for k, v in streamed.items() if k not in STREAMING_FIELDS}
    if depth >= MAX_PLACED_DEPTH:
        # A chain of streamed subsegments can be any length: past this depth its links are
        # placed under their segment instead, keeping parent_id, so that a trace stays within
        # what json writes and the queries walk (a document itself nests ~60 levels at most).
        child["parent_id"] = streamed["parent_id"]
        element, depth = segment, 0
    siblings: list[Document] = element.setdefault("subsegments", [])
    for position, sibling in enumerate(siblings):
        if sibling["id"] == child["id"]:
            # The complete version wins over an in-progress one, whichever came first.
            if sibling.get("in_progress") and not child.get("in_progress"):
                siblings[position] = child
                break
            return
    else:
        siblings.append(child)
    _index(child, depth + 1, segment, index)


def end_of(element: Document) -> float:
    """End time, or start time for a document still in progress."""
    return float(element["end_time"] if "end_time" in element else element["start_time"])


def status_of(element: Document) -> int | None:
    """The HTTP response status as an integer, if the element has a finite one."""
    status = members(members(element, "http"), "response").get("status")
    if status.__class__ is int:  # the common case, checked without building a tuple
        return status  # type: ignore[no-any-return]
    if isinstance(status, float) and -1e18 < status < 1e18:  # never NaN or infinity
        return int(status)
    return None


# An element's outcome: its error, throttle and fault flags as bits, each set from the
# document's flag or its HTTP status (4xx, 429, 5xx). X-Ray's API defines the three flags
# independently (Segment documents: error, throttle, fault; TraceSummary: HasError,
# HasThrottle, HasFault), and SDKs set several at once (botocore's 429: error + throttle;
# the Node SDK's 400 from DynamoDB: error + fault): none of them hides another.
OK, ERROR, THROTTLE, FAULT = 0, 1, 2, 4


def outcome(element: Document) -> int:
    """The element's flags as OK or a sum of ERROR, THROTTLE and FAULT."""
    status = status_of(element)
    bits = OK
    if element.get("error") or (status is not None and 400 <= status < 500):
        bits |= ERROR
    if element.get("throttle") or status == 429:
        bits |= THROTTLE
    if element.get("fault") or (status is not None and 500 <= status < 600):
        bits |= FAULT
    return bits


def root_segment(segments: list[Document]) -> Document | None:
    ids = {element["id"] for segment in segments for element in walk(segment)}
    roots = [s for s in segments if s.get("parent_id") not in ids and not s.get("inferred")]
    return min(roots, key=lambda s: s["start_time"]) if roots else None


def annotation_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BooleanValue": value}
    if isinstance(value, (int, float)):
        return {"NumberValue": float(value)}
    return {"StringValue": str(value)}


def summarise(trace_id: str, segments: list[Document]) -> dict[str, Any]:
    """A TraceSummary (botocore shape) for one assembled trace."""
    root = root_segment(segments) or min(segments, key=lambda s: s["start_time"])
    start = min(s["start_time"] for s in segments)
    end = max(end_of(s) for s in segments)
    elements = [e for s in segments for e in walk(s)]
    flags = OK
    for element in elements:
        flags |= outcome(element)
    annotations: dict[str, list[dict[str, Any]]] = {}
    users: dict[str, None] = {}
    services: dict[tuple[str, str], None] = {}
    for segment in segments:
        if not segment.get("inferred"):
            services[(segment["name"], text_field(segment, "origin") or "service")] = None
        if text_field(segment, "user"):
            users[segment["user"]] = None
        for element in walk(segment):
            found = element.get("annotations")
            for key, value in found.items() if isinstance(found, dict) else ():
                if filterable_annotation(key, value):  # what X-Ray indexes
                    annotations.setdefault(key, []).append(
                        {"AnnotationValue": annotation_value(value)}
                    )
    request = members(members(root, "http"), "request")
    http: dict[str, Any] = {}
    for source, target in (
        ("url", "HttpURL"),
        ("method", "HttpMethod"),
        ("user_agent", "UserAgent"),
        ("client_ip", "ClientIp"),
    ):
        if isinstance(request.get(source), str):
            http[target] = request[source]
    if status_of(root) is not None:
        http["HttpStatus"] = status_of(root)
    summary: dict[str, Any] = {
        "Id": trace_id,
        "StartTime": start,
        "Duration": round(end - start, 3),
        "ResponseTime": round(root.get("end_time", root["start_time"]) - root["start_time"], 3),
        "HasFault": bool(flags & FAULT),
        "HasError": bool(flags & (ERROR | THROTTLE)),  # a throttle is a client error too
        "HasThrottle": bool(flags & THROTTLE),
        "IsPartial": any(s.get("in_progress") for s in segments),
        "Http": http,
        "Annotations": annotations,
        "Users": [{"UserName": user} for user in users],
        "ServiceIds": [{"Name": name, "Names": [name], "Type": kind} for name, kind in services],
        "EntryPoint": {
            "Name": root["name"],
            "Names": [root["name"]],
            "Type": text_field(root, "origin") or "service",
        },
    }
    arns = [s["resource_arn"] for s in segments if isinstance(s.get("resource_arn"), str)]
    if arns:
        summary["ResourceARNs"] = [{"ARN": arn} for arn in dict.fromkeys(arns)]
    return summary
