"""X-Ray trace headers in and out, parsed and written with aws-xray-sdk's TraceHeader.

Unknown keys (Lineage, ...) are kept, Sampled=0 is propagated as such, and nothing longer than
the 256 characters X-Ray accepts is written: extra keys are dropped first, Root/Parent/Sampled
never.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lambda_tracing.backend import get_backend

if TYPE_CHECKING:
    from aws_xray_sdk.core.models.trace_header import TraceHeader

MAX_HEADER_LENGTH = 256
XRAY_HEADER = "X-Amzn-Trace-Id"

_ROOT = r"^1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24}\Z"
_PARENT = r"^[0-9a-fA-F]{16}\Z"
_NOOP_ROOT_SUFFIX = "-00000000-000000000000000000000000"
_NOOP_ID = "0000000000000000"


# re.match compiles on first use and caches: not on the cold path of a function that makes
# no call or only sees headers in Lambda's form.
def _root_match(text: str) -> re.Match[str] | None:
    return re.match(_ROOT, text)


def _parent_match(text: str) -> re.Match[str] | None:
    return re.match(_PARENT, text)


def _trace_header_class() -> type[TraceHeader]:
    from lambda_tracing.backend import sdk_models

    return sdk_models.model("aws_xray_sdk.core.models.trace_header").TraceHeader  # type: ignore[no-any-return]


def parse(value: object) -> TraceHeader | None:
    """The trace header in `value`, or None when it is missing or malformed (never raises)."""
    if not isinstance(value, str) or not value or len(value) > 4 * MAX_HEADER_LENGTH:
        return None
    TraceHeader = _trace_header_class()  # noqa: N806

    # TraceHeader gives up on a whole header for one empty part ("...;Sampled=1;"), so tidy first.
    parts = [part.strip() for part in value.split(";") if "=" in part]
    header = TraceHeader.from_header_str(";".join(parts))
    if not header.root or not _root_match(header.root) or header.root.endswith(_NOOP_ROOT_SUFFIX):
        return None
    parent = header.parent if header.parent and _parent_match(header.parent) else None
    sampled = header.sampled if header.sampled in (0, 1, "?") else None
    if parent != header.parent or sampled != header.sampled:
        header = TraceHeader(root=header.root, parent=parent, sampled=sampled, data=header.data)
    return header


def render(header: TraceHeader) -> str:
    """`header` as a string of at most 256 characters, dropping extra keys (last first) to fit."""
    TraceHeader = _trace_header_class()  # noqa: N806

    text = header.to_header_str()
    data = dict(header.data or {})
    while len(text) > MAX_HEADER_LENGTH and data:
        data.pop(next(reversed(data)))
        text = TraceHeader(header.root, header.parent, header.sampled, data).to_header_str()
    return text[:MAX_HEADER_LENGTH]


def for_entity(entity: Any) -> TraceHeader | None:
    """The header a call made inside `entity` (segment or subsegment) sends downstream.

    Parent is the entity itself when sampled; when not, the entity is a dummy with no real id, so
    the segment's id is sent with Sampled=0, which tells the downstream side not to record.
    """
    if entity is None:
        return None
    TraceHeader = _trace_header_class()  # noqa: N806

    trace_id = getattr(entity, "trace_id", None)
    if not isinstance(trace_id, str) or trace_id.endswith(_NOOP_ROOT_SUFFIX):
        return None
    segment = getattr(entity, "parent_segment", None) or entity
    sampled = bool(getattr(entity, "sampled", False))
    parent = entity.id if sampled else segment.id
    if not isinstance(parent, str) or parent == _NOOP_ID:
        parent = None
    get_origin = getattr(segment, "get_origin_trace_header", None)
    origin = get_origin() if callable(get_origin) else None
    data = dict(origin.data) if origin is not None and origin.data else None
    return TraceHeader(root=trace_id, parent=parent, sampled=1 if sampled else 0, data=data)


def text_for_entity(entity: Any) -> str | None:
    """`render(for_entity(entity))`, written straight from the layer's own entities when it can
    be (the per-call path of every patched call): same text, no TraceHeader objects."""
    segment = getattr(entity, "parent_segment", None) or entity
    tail = getattr(segment, "data", None)  # the layer's Facade: Lambda's header after Sampled
    trace_id = getattr(entity, "trace_id", None)
    # Lambda's own tail is at most one field (";Lineage=..."): more go the general way, which
    # drops repeated keys and Self as TraceHeader does.
    if (
        isinstance(tail, str)
        and tail.count(";") <= 1
        and not tail.startswith(";Self=")
        and isinstance(trace_id, str)
        and not trace_id.endswith(_NOOP_ROOT_SUFFIX)
    ):
        sampled = bool(entity.sampled)
        parent = entity.id if sampled else segment.id
        if isinstance(parent, str) and parent != _NOOP_ID:
            text = f"Root={trace_id};Parent={parent};Sampled={1 if sampled else 0}{tail}"
            if len(text) <= MAX_HEADER_LENGTH:
                return text
    header = for_entity(entity)
    return render(header) if header is not None else None


def layer_recorder() -> Any:
    """The layer backend's recorder (what aws-xray-sdk's patchers call), or None when tracing
    is off."""
    return getattr(get_backend(), "recorder", None)


def current_entity() -> Any:
    """The open segment/subsegment of this thread or task in the layer's recorder, or None."""
    try:
        recorder = layer_recorder()
        return recorder.get_trace_entity() if recorder is not None else None
    except Exception:  # no segment and context_missing=RUNTIME_ERROR, or SDK trouble
        return None


def current_text() -> str | None:
    """The header for a call made now, as text (text_for_entity of the current entity)."""
    entity = current_entity()
    return text_for_entity(entity) if entity is not None else None


def traceparent_for_entity(entity: Any) -> str | None:
    """`to_traceparent(for_entity(entity))`, written straight from the entity (the per-call
    path of OTLP mode or LAMBDA_TRACING_PROPAGATE_W3C): no TraceHeader objects, no parse of
    Lambda's header."""
    if entity is None:
        return None
    trace_id = getattr(entity, "trace_id", None)
    if not isinstance(trace_id, str) or not trace_id or trace_id.endswith(_NOOP_ROOT_SUFFIX):
        return None
    segment = getattr(entity, "parent_segment", None) or entity
    sampled = bool(getattr(entity, "sampled", False))
    parent = entity.id if sampled else segment.id
    if not isinstance(parent, str) or not parent or parent == _NOOP_ID:
        return None
    flags = "01" if sampled else "00"
    return f"00-{trace_id[2:].replace('-', '').lower()}-{parent.lower()}-{flags}"


def to_traceparent(header: TraceHeader) -> str | None:
    """W3C `traceparent` carrying the same trace: X-Ray's root without dashes is a 128-bit id."""
    if not header.root or not header.parent:
        return None
    trace_id = header.root[2:].replace("-", "").lower()
    flags = "01" if header.sampled == 1 else "00"
    return f"00-{trace_id}-{header.parent.lower()}-{flags}"
