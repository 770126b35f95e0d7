"""Admitting a parsed document: X-Ray's checks and the graph projection in one walk.

The daemon's ingest path checks every element of a document (documents.validate) and then
projects it for the graph (graph.project): two walks, ~16 us for a segment with two
subsegments. `admit` does both in one walk over the common shape, with the checks inlined
and cheapest first. Whatever it is not sure of (anything to reject, anything that earns a
note, a flag or status it does not read itself) it hands to validate and project, so it
admits exactly what they admit, with the same projection, rejection and notes.
"""

from __future__ import annotations

from sys import intern
from typing import Any

from .documents import (
    _ID,
    _NAME_OUTSIDE,
    _TRACE_ID,
    LATEST_TIME,
    MAX_DOCUMENT_BYTES,
    MAX_NAME_LENGTH,
    MAX_NESTING,
    Document,
    Notes,
    filterable_annotation,
    load_document,
    orjson,
    validate,
)
from .graph import Entry, Projection, inferred_identity, project, projection_of
from .traces import ERROR, FAULT, THROTTLE, outcome

# Names and annotation keys already found good: a service sends the same few over and over,
# and a set lookup costs a fraction of the pattern's search. Bounded: past the bound, the
# rest are checked every time.
_GOOD_NAMES: set[str] = set()
_GOOD_KEYS: set[str] = set()
_REMEMBERED = 10_000
_SCALARS = (str, int, float, bool)  # the annotation values filters compare
_FROMHEX = bytes.fromhex


def _remember(good: set[str], value: str) -> None:
    if len(good) < _REMEMBERED:
        good.add(value)


def admit(document: Any, notes: Notes | None = None) -> Projection:
    """graph.project(documents.validate(document, notes)): raises InvalidDocument for what
    validate rejects, appends to `notes` what validate notes."""
    projection = _one_walk(document)
    if projection is None:  # something to reject or note, or a shape read the long way
        projection = project(validate(document, notes))
    return projection


def admit_text(text: bytes, notes: Notes | None = None) -> tuple[Document, Projection]:
    """(document, projection) for a document's JSON text: documents.load_document then
    admit. The first reading may give an integer beyond 64 bits as a float (orjson's
    reading; looking for such numbers costs ~3 us a document): where that could matter, in
    a reason, a note or a time, the document is read again exactly and checked the long way.
    Nothing the one walk admits is changed by it: its times are within range, and it reads
    other numbers only as statuses (both readings no 4xx or 5xx) or truth values."""
    # load_document(text, exact_integers=False)'s common case, inline: bytes within the
    # size limit that orjson reads, with too few brackets to nest too deep
    if orjson is not None and text.__class__ is bytes and len(text) <= MAX_DOCUMENT_BYTES:
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError:
            document = load_document(text, exact_integers=False)  # its verdict
        else:
            if text.count(b"[") + text.count(b"{") > MAX_NESTING:
                document = load_document(text, exact_integers=False)  # its verdict
    else:
        document = load_document(text, exact_integers=False)
    try:
        projection = _fast_projection(document)
    except Exception:  # noqa: BLE001 - as _one_walk
        projection = None
    if projection is None:
        document = load_document(text)
        projection = project(validate(document, notes))
    return document, projection


def _one_walk(document: Any) -> Projection | None:
    """_fast_projection, or None when it fails on a shape it did not foresee: the full rules
    then decide, so a slip here never costs a document X-Ray would keep."""
    try:
        return _fast_projection(document)
    except Exception:  # noqa: BLE001 - the long way is the reference
        return None


def _fast_projection(document: Any) -> Projection | None:
    """The projection if the document passes every check with nothing to note and only
    fields read here; None otherwise (then nothing here has been left behind anywhere)."""
    if document.__class__ is not dict:
        return None
    trace_id = document.get("trace_id")
    if trace_id.__class__ is not str or not _TRACE_ID(trace_id):
        return None
    parent_id = document.get("parent_id")
    streamed = document.get("type") == "subsegment"
    if parent_id is None:
        if streamed:
            return None
    elif parent_id.__class__ is not str or not _ID(parent_id):
        return None
    own = _entry(document, streamed)
    if own is None:
        return None
    children = document.get("subsegments")
    entries: list[Entry] = []
    if children is not None:
        if children.__class__ is not list:
            return None
        # graph._subsegment_entries's order: last child first, then its own children
        pending = children.copy()
        while pending:
            child = pending.pop()
            if child.__class__ is not dict:
                return None
            entry = _entry(child, True)
            if entry is None:
                return None
            entries.append(entry)
            grandchildren = child.get("subsegments")
            if grandchildren is not None:
                if grandchildren.__class__ is not list:
                    return None
                pending.extend(grandchildren)
    return projection_of(document, own, entries)


def _entry(element: dict[str, Any], infer: bool) -> Entry | None:
    """graph._entry of an element that passes documents._check_element with no note, else
    None."""
    get = element.get
    element_id: Any = get("id")
    # 16 hexadecimal digits (documents._ID): 16 characters that make 8 bytes (fromhex skips
    # whitespace, which would leave fewer digits), at ~2/3 of the pattern's cost. Not a
    # string: TypeError, left to the full rules as any slip here.
    if len(element_id) != 16 or len(_FROMHEX(element_id)) != 8:
        return None
    name = get("name")
    if name.__class__ is not str:
        return None
    if name not in _GOOD_NAMES:
        if not 0 < len(name) <= MAX_NAME_LENGTH or _NAME_OUTSIDE(name):
            return None
        _remember(_GOOD_NAMES, name)
    # Times: numbers but booleans within range (anything else fails the comparison with a
    # TypeError, left to the full rules)
    start: Any = get("start_time")
    if start.__class__ is bool or not 0 <= start <= LATEST_TIME:
        return None
    end = get("end_time")
    in_progress = get("in_progress")
    if end is None:
        if in_progress is not True:
            return None
        stop = start
    elif end.__class__ is bool or not 0 <= end <= LATEST_TIME:
        return None
    else:
        stop = end
    if "cause" in element:  # stack frames to look at: validate notes what it must
        return None
    annotations = get("annotations")
    if annotations is not None:
        if annotations.__class__ is not dict:
            return None
        for key, value in annotations.items():
            if value.__class__ not in _SCALARS:
                return None
            if key not in _GOOD_KEYS:
                if not filterable_annotation(key, value):
                    return None
                _remember(_GOOD_KEYS, key)
    bits = 0
    http = get("http")
    if http is not None:
        response = http.get("response") if http.__class__ is dict else None
        if response.__class__ is dict:
            length = response.get("content_length", 0)  # type: ignore[union-attr]
            if length.__class__ is not int and length.__class__ is not float:
                return None
            status = response.get("status")  # type: ignore[union-attr]
            if status.__class__ is int:
                if 400 <= status < 500:
                    bits = ERROR | THROTTLE if status == 429 else ERROR
                elif 500 <= status < 600:
                    bits = FAULT
            elif status is not None:
                bits = outcome(element)
    if "error" in element or "throttle" in element or "fault" in element:
        bits = outcome(element)
    target_name = target_type = None
    if infer and "namespace" in element:
        identity = inferred_identity(element)
        if identity is not None:  # two strings: graph._interned's work without its calls
            target_name, target_type = intern(identity[0]), intern(identity[1])
    duration = stop - start
    if duration < 0.0:  # clock skew: as statistics.timing
        duration = 0.0
    return (
        element_id,
        start,
        end,
        bits,
        1 if in_progress else 0,
        target_name,
        target_type,
        stop,
        duration,
        round(duration * 1000.0),
    )
