"""OTLP protobuf, written by hand: `ExportTraceServiceRequest` with only the fields the layer sets.

Why not the official `opentelemetry-proto` classes: importing them (and protobuf) took 42-60 ms
on the development machine (`python -X importtime -c "import opentelemetry.proto.collector.trace
.v1.trace_service_pb2"`), about three times the layer's whole added cold start in X-Ray mode, and
protobuf would add megabytes to a layer gated at 2 MB. The wire format needed here is small:
varints, fixed64/fixed32, and length-delimited fields. tests/unit/test_layer_otlp_encode.py
decodes generated spans (hypothesis) with the official classes and compares field by field.

Field numbers are those of opentelemetry/proto/{collector/trace,trace,common,resource}/v1.
"""

from __future__ import annotations

import struct
from binascii import b2a_base64
from collections.abc import Iterable, Sequence
from typing import Any

# SpanKind and StatusCode values of trace.proto
KIND_INTERNAL, KIND_SERVER, KIND_CLIENT, KIND_PRODUCER, KIND_CONSUMER = 1, 2, 3, 4, 5
STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2
# SpanFlags: the W3C sampled bit, and "is the parent remote" (known, and set).
FLAG_SAMPLED = 0x01
FLAG_HAS_IS_REMOTE = 0x100
FLAG_IS_REMOTE = 0x200

_PREFIXES_KEPT = 64  # span lengths whose request prefix is kept encoded (RequestFrame.datagram)
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_double = struct.Struct("<d").pack
_fixed64 = struct.Struct("<Q").pack
_fixed32 = struct.Struct("<I").pack


def varint(value: int) -> bytes:
    """Base-128 varint; negative numbers as their 64-bit two's complement (int64)."""
    if value < 0:
        value += 1 << 64
    if value < 0x80:
        return bytes((value,))
    if value < 0x4000:  # two bytes: the length of a usual request or span
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL = [bytes((n,)) for n in range(128)]  # one-byte varints: most lengths on this path


def _delimited(tag: bytes, payload: bytes) -> bytes:
    size = len(payload)
    return tag + (_SMALL[size] if size < 128 else varint(size)) + payload


def _text(value: str) -> bytes:
    try:
        return value.encode()
    except UnicodeEncodeError:  # lone surrogates: protobuf strings must be valid UTF-8
        return value.encode("utf-8", "replace")


# --- common.proto: AnyValue, KeyValue ---


def any_value(value: Any) -> bytes:
    """An AnyValue message body. bool, int (int64 range), float, str, bytes, lists/tuples and
    str-keyed dicts map to their AnyValue kinds; anything else is written as str(value)."""
    if isinstance(value, str):
        return _delimited(b"\x0a", _text(value))
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return b"\x18" + varint(value)
        return _delimited(b"\x0a", str(value).encode())
    if isinstance(value, float):
        return b"\x21" + _double(value)
    if isinstance(value, (list, tuple)):
        return _delimited(b"\x2a", b"".join(_delimited(b"\x0a", any_value(item)) for item in value))
    if isinstance(value, dict):
        return _delimited(
            b"\x32",
            b"".join(_delimited(b"\x0a", key_value(str(key), item)) for key, item in value.items()),
        )
    if isinstance(value, (bytes, bytearray)):
        return _delimited(b"\x3a", bytes(value))
    return _delimited(b"\x0a", _text(str(value)))


def key_value(key: str, value: Any) -> bytes:
    """A KeyValue message body."""
    return _delimited(b"\x0a", _text(key)) + _delimited(b"\x12", any_value(value))


_tuples: dict[tuple[Any, ...], bytes] = {}
_key_fields: dict[str, bytes] = {}  # KeyValue.key fields: the same few keys on every span


def _key_field(key: str) -> bytes:
    field = _key_fields.get(key)
    if field is None:
        field = _delimited(b"\x0a", _text(key))
        if len(_key_fields) < 2048:
            _key_fields[key] = field
    return field


_str_entries: dict[bytes, dict[tuple[str, str], bytes]] = {}  # per field tag


def attributes(pairs: Iterable[tuple[str, Any]], tag: bytes) -> bytes:
    """`pairs` as repeated KeyValue fields with `tag` (the field's tag byte in its message).
    On the per-invocation path each function call counts: string pairs, nearly every
    attribute and mostly the same on every invocation (service, version, annotation keys),
    come from a small cache; booleans are written inline."""
    out = []
    cache = _str_entries.get(tag)
    if cache is None:
        cache = _str_entries[tag] = {}
    for pair in pairs:
        key, value = pair
        kind = type(value)
        if kind is str:
            entry = cache.get(pair)  # type: ignore[call-overload]
            if entry is None:
                entry = _entry(
                    tag, _key_field(key) + _delimited(b"\x12", _delimited(b"\x0a", _text(value)))
                )
                if len(cache) < 1024 and len(value) <= 256:
                    cache[pair] = entry  # type: ignore[index]
            out.append(entry)
            continue
        if kind is bool:
            body = _key_field(key) + (b"\x12\x02\x10\x01" if value else b"\x12\x02\x10\x00")
        elif kind is int and 0 <= value < 0x80:  # status codes, retries, counts
            body = _key_field(key) + b"\x12\x02\x18" + _SMALL[value]
        elif kind is int and 0x80 <= value < 0x4000:
            body = _key_field(key) + b"\x12\x03\x18" + varint(value)
        elif kind is tuple:  # a tuple of strings (annotation keys): the same every invocation
            try:
                encoded = _tuples.get(value)
            except TypeError:  # holds something unhashable
                encoded = _delimited(b"\x12", any_value(value))
            if encoded is None:
                encoded = _delimited(b"\x12", any_value(value))
                if len(_tuples) < 256:
                    _tuples[value] = encoded
            body = _key_field(key) + encoded
        else:
            body = _key_field(key) + _delimited(b"\x12", any_value(value))
        out.append(_entry(tag, body))
    return b"".join(out)


def _entry(tag: bytes, body: bytes) -> bytes:
    size = len(body)
    return tag + (_SMALL[size] if size < 128 else varint(size)) + body


# --- trace.proto: Span, Event, Link, Status ---


def event(time_ns: int, name: str, pairs: Iterable[tuple[str, Any]]) -> bytes:
    """A Span.Event message body."""
    return (
        b"\x09" + _fixed64(time_ns) + _delimited(b"\x12", _text(name)) + attributes(pairs, b"\x1a")
    )


def link(
    trace_id: bytes, span_id: bytes, pairs: Iterable[tuple[str, Any]] = (), flags: int = 0
) -> bytes:
    """A Span.Link message body."""
    body = _delimited(b"\x0a", trace_id) + _delimited(b"\x12", span_id) + attributes(pairs, b"\x22")
    return body + b"\x35" + _fixed32(flags) if flags else body


def span(
    trace_id: bytes,
    span_id: bytes,
    parent_span_id: bytes | None,
    name: str,
    kind: int,
    start_ns: int,
    end_ns: int,
    encoded_attributes: bytes = b"",
    events: Sequence[bytes] = (),
    links: Sequence[bytes] = (),
    status_code: int = STATUS_UNSET,
    status_message: str = "",
    flags: int = 0,
) -> bytes:
    """A Span message body. `encoded_attributes` is `attributes(pairs, b"\\x4a")`; `events`
    and `links` are `event(...)` / `link(...)` bodies."""
    parts = [_delimited(b"\x0a", trace_id), _delimited(b"\x12", span_id)]
    if parent_span_id:
        parts.append(_delimited(b"\x22", parent_span_id))
    parts.append(
        _delimited(b"\x2a", _text(name))
        + b"\x30"
        + _SMALL[kind & 0x7F]
        + b"\x39"
        + _fixed64(start_ns)
        + b"\x41"
        + _fixed64(end_ns)
    )
    parts.append(encoded_attributes)
    parts.extend(_delimited(b"\x5a", body) for body in events)
    parts.extend(_delimited(b"\x6a", body) for body in links)
    if status_code or status_message:
        status = _delimited(b"\x12", _text(status_message)) if status_message else b""
        if status_code:
            status += b"\x18" + varint(status_code)
        parts.append(_delimited(b"\x7a", status))
    if flags:
        parts.append(b"\x85\x01" + _fixed32(flags))  # field 16, fixed32
    return b"".join(parts)


SPAN_TAG = b"\x12"  # ScopeSpans.spans


def span_entry(body: bytes) -> bytes:
    """A span body as one repeated ScopeSpans.spans field: entries concatenate."""
    return _delimited(SPAN_TAG, body)


# --- the request ---


class RequestFrame:
    """The fixed part of every request this process sends (one resource, one scope), encoded
    once; `request(entries)` wraps span entries into an ExportTraceServiceRequest."""

    def __init__(
        self, resource: Iterable[tuple[str, Any]], scope_name: str, scope_version: str
    ) -> None:
        self._resource = _delimited(b"\x0a", attributes(resource, b"\x0a"))
        scope = _delimited(b"\x0a", _text(scope_name)) + _delimited(b"\x12", _text(scope_version))
        self._scope = _delimited(b"\x0a", scope)
        # Three length prefixes of at most 3 bytes each (requests stay under 2 MB) plus tags.
        self.overhead = len(self._resource) + len(self._scope) + 2 * 4 + 4
        # spans' length -> (the base64 of the request before them, whole 3-byte groups only;
        # the 0-2 bytes left over)
        self._prefixes: dict[int, tuple[bytes, bytes]] = {}

    def request(self, entries: Sequence[bytes]) -> bytes:
        """ExportTraceServiceRequest{resource_spans: [{resource, scope_spans: [{scope,
        spans: entries}]}]}: two lengths computed, one join (once per invocation)."""
        spans = entries[0] if len(entries) == 1 else b"".join(entries)
        scope_size = len(self._scope) + len(spans)
        scope_field = b"\x12" + varint(scope_size)
        resource_size = len(self._resource) + len(scope_field) + scope_size
        return b"".join(
            (b"\x0a", varint(resource_size), self._resource, scope_field, self._scope, spans)
        )

    def base64_request(self, entries: Sequence[bytes]) -> bytes:
        """binascii.b2a_base64(self.request(entries), newline=False), through datagram."""
        return self.datagram(b"", entries[0] if len(entries) == 1 else b"".join(entries))

    def datagram(self, framing: bytes, spans: bytes) -> bytes:
        """`framing` then the base64 of the request of `spans` (joined span entries), in one
        join. What precedes the spans in the request depends only on their length: for a
        length seen before (an execution environment's usual span mostly keeps its length)
        that prefix's whole 3-byte groups come encoded from a small cache (base64 turns each
        3 bytes into 4 on their own), and only its last 0-2 bytes and the spans are encoded."""
        size = len(spans)
        cached = self._prefixes.get(size)
        if cached is None:
            prefix = self.prefix(size)
            whole = len(prefix) - len(prefix) % 3
            cached = (b2a_base64(prefix[:whole], newline=False), prefix[whole:])
            if len(self._prefixes) < _PREFIXES_KEPT:
                self._prefixes[size] = cached
        encoded, tail = cached
        return b"".join((framing, encoded, b2a_base64(tail + spans, newline=False)))

    def prefix(self, size: int) -> bytes:
        """The request's bytes before its span entries, when they take `size` bytes."""
        scope_size = len(self._scope) + size
        scope_field = b"\x12" + varint(scope_size)
        resource_size = len(self._resource) + len(scope_field) + scope_size
        return b"".join((b"\x0a", varint(resource_size), self._resource, scope_field, self._scope))
