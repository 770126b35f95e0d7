"""Keep every segment document under X-Ray's UDP limit, whatever the user put in it.

The daemon takes one document per datagram, at most 64 KB with the protocol header; a bigger
one fails with "Message too long" and the whole subsegment tree is lost (powertools#476). `fit`
degrades a too-large document step by step, each step marked so a reader sees what happened:
big metadata replaced by a marker, long strings cut, child subsegments sent as documents of their
own (X-Ray joins them by parent_id), and at last a node reduced to its identity and timing.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

UDP_LIMIT = 65507  # largest IPv4 UDP payload; X-Ray's documented segment limit is 64 KB
PROTOCOL_HEADER = '{"format":"json","version":1}\n'
DOCUMENT_LIMIT = 64000 - len(PROTOCOL_HEADER)
MARKER_NAMESPACE = "lambda_tracing"
STRING_LIMIT = 1024
_NAME_UNSAFE = re.compile(r"[^\w\s.:/%&#=+\-@]")
_KEEP_WHEN_STRIPPED = (
    "name",
    "id",
    "trace_id",
    "parent_id",
    "type",
    "namespace",
    "start_time",
    "end_time",
    "in_progress",
    "error",
    "fault",
    "throttle",
    "origin",
)


@functools.lru_cache(maxsize=1024)
def safe_name(name: str, limit: int = 200) -> str:
    """A subsegment name X-Ray accepts: allowed characters only, at most 200 of them."""
    cleaned = _NAME_UNSAFE.sub("_", str(name))[:limit].strip()
    return cleaned or "unnamed"


# As aws-xray-sdk's Entity.serialize (ASCII JSON, unknown objects as str), so len() is bytes,
# but compact (no spaces after separators: fewer bytes to encode and send); one encoder for the
# process instead of one per json.dumps(default=...) call.
_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))
# The same encoder's C core, made once: JSONEncoder.encode builds a new one (and a closure) at
# every call, about 11k of the 56k instructions a handler document costs on CPython 3.13. No
# circular-reference markers: documents are trees, and a cycle in user metadata fails with
# RecursionError, which `fit` answers by marking that metadata. None without the C accelerator.
_c_encoder = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE = (
    None
    if _c_encoder is None
    else _c_encoder(
        None, str, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True
    )
)


def serialize(document: Any) -> str:
    if _C_ENCODE is not None:
        return "".join(_C_ENCODE(document, 0))
    return _ENCODER.encode(document)


_escape = json.encoder.encode_basestring_ascii
_TIME_TYPES = (float, int)  # the times the direct text writes as serialize would (not bool)


def usual_subsegment_text(
    span_id: str,
    name: str,
    start: float,
    parent: str,
    annotations: dict[str, Any],
    metadata: dict[str, Any],
    trace: str,
    kind: str,
    namespace: str,
    end: float,
) -> str:
    """The usual closed subsegment's document (Span.to_dict's short way: the same keys in the
    same order, no metadata key when it is empty) as serialize() writes it, but for the times:
    to the microsecond, the resolution X-Ray's documentation recommends (a float's shortest
    repr costs twice as much). Made directly, at about a third of the encoder's cost. A value
    of another type raises TypeError, ValueError or OverflowError (the caller then takes the
    general way)."""
    # `%f` would write a bool as 1.000000, a Decimal as a number (serialize writes its str)
    # and NaN or infinity as bare words: those go the general way. (x - x is 0 for a finite
    # number, NaN otherwise.)
    if type(start) not in _TIME_TYPES or type(end) not in _TIME_TYPES or start - start or end - end:
        raise ValueError("a time that is not a finite float or int")
    # Two whole literals: joining the text from parts cost ~1k instructions more.
    if not metadata:
        return (
            f'{{"id":{_escape(span_id)},"name":{_escape(name)},"start_time":{start:.6f},'
            f'"parent_id":{_escape(parent)},"in_progress":false,'
            f'"annotations":{serialize(annotations)},'
            f'"trace_id":{_escape(trace)},"type":{_escape(kind)},"namespace":{_escape(namespace)},'
            f'"end_time":{end:.6f}}}'
        )
    return (
        f'{{"id":{_escape(span_id)},"name":{_escape(name)},"start_time":{start:.6f},'
        f'"parent_id":{_escape(parent)},"in_progress":false,'
        f'"annotations":{serialize(annotations)},"metadata":{serialize(metadata)},'
        f'"trace_id":{_escape(trace)},"type":{_escape(kind)},"namespace":{_escape(namespace)},'
        f'"end_time":{end:.6f}}}'
    )


def subsegment_text(
    span_id: str,
    name: str,
    start: float,
    parent: str,
    blocks: str,
    trace: str,
    kind: str,
    namespace: str,
    end: float,
) -> str:
    """A closed subsegment's document written as usual_subsegment_text writes it, with
    `blocks` (its non-empty http, annotations, metadata, aws and subsegments, each `"key":...,`
    in the document's order) between in_progress and trace_id. Raises as that does."""
    if type(start) not in _TIME_TYPES or type(end) not in _TIME_TYPES or start - start or end - end:
        raise ValueError("a time that is not a finite float or int")
    return (
        f'{{"id":{_escape(span_id)},"name":{_escape(name)},"start_time":{start:.6f},'
        f'"parent_id":{_escape(parent)},"in_progress":false,{blocks}'
        f'"trace_id":{_escape(trace)},"type":{_escape(kind)},"namespace":{_escape(namespace)},'
        f'"end_time":{end:.6f}}}'
    )


def fit(document: dict[str, Any], limit: int = DOCUMENT_LIMIT) -> list[str]:
    """Serialized documents, each at most `limit` bytes, carrying as much of `document` as fits.
    Metadata that cannot be written as JSON at all (a reference cycle, nesting deeper than the
    recursion limit, an object whose str() raises) is replaced by a marker; the rest is sent."""
    try:
        text = serialize(document)
    except Exception:  # noqa: BLE001 - whatever the user's objects raise
        document = _walk(document, mark_unserializable_metadata)
        text = serialize(document)
    if len(text) <= limit:
        return [text]
    for shrink in (_drop_big_metadata, _cut_long_strings):
        document = shrink(document)
        text = serialize(document)
        if len(text) <= limit:
            return [text]
    return _split(document, limit)


def _marker(reason: str, original_bytes: int) -> dict[str, Any]:
    return {
        MARKER_NAMESPACE: {"truncated": True, "reason": reason, "original_bytes": original_bytes}
    }


def _walk(document: dict[str, Any], change: Any) -> dict[str, Any]:
    changed = change(dict(document))
    children = changed.get("subsegments")
    if isinstance(children, list):
        changed["subsegments"] = [
            _walk(child, change) if isinstance(child, dict) else child for child in children
        ]
    return changed


def mark_unserializable_metadata(node: dict[str, Any]) -> dict[str, Any]:
    """`node` (changed in place) with its metadata replaced by a marker if it cannot be
    written as JSON."""
    metadata = node.get("metadata")
    if metadata:
        try:
            serialize(metadata)
        except Exception as error:  # noqa: BLE001
            reason = f"metadata not serializable: {type(error).__name__}"
            node["metadata"] = _marker(reason, 0)
    return node


def _drop_big_metadata(document: dict[str, Any]) -> dict[str, Any]:
    def change(node: dict[str, Any]) -> dict[str, Any]:
        metadata = node.get("metadata")
        if metadata:
            size = len(serialize(metadata))
            if size > STRING_LIMIT:
                node["metadata"] = _marker("metadata too large for one segment document", size)
        return node

    return _walk(document, change)


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > STRING_LIMIT:
        return value[:STRING_LIMIT] + f"...[truncated {len(value) - STRING_LIMIT} chars]"
    if isinstance(value, dict):
        return {key: _cut(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_cut(item) for item in value[:50]]
    return value


def _cut_long_strings(document: dict[str, Any]) -> dict[str, Any]:
    def change(node: dict[str, Any]) -> dict[str, Any]:
        for key, value in list(node.items()):
            if key != "subsegments":
                node[key] = _cut(value)
        return node

    return _walk(document, change)


def _strip(node: dict[str, Any], size: int) -> dict[str, Any]:
    stripped = {key: node[key] for key in _KEEP_WHEN_STRIPPED if key in node}
    stripped["name"] = safe_name(str(stripped.get("name", "unnamed")))
    stripped["metadata"] = _marker("subsegment too large for one segment document", size)
    return stripped


def _split(document: dict[str, Any], limit: int) -> list[str]:
    """Send children as their own documents, then the node itself (stripped if need be)."""
    out: list[str] = []
    children = document.get("subsegments") or []
    node = {key: value for key, value in document.items() if key != "subsegments"}
    for child in children:
        if not isinstance(child, dict):
            continue
        independent = dict(child)
        independent["type"] = "subsegment"
        independent["parent_id"] = node.get("id")
        if "trace_id" in node:
            independent["trace_id"] = node["trace_id"]
        out.extend(fit(independent, limit))
    text = serialize(node)
    if len(text) > limit:
        text = serialize(_strip(node, len(text)))
    out.append(text)
    return out
