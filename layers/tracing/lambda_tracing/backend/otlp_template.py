"""The usual span, mostly pre-encoded: what one invocation of OTLP mode encodes.

An invocation that made no traced call sends one span, its handler's, and most of its bytes are
the same in every invocation of an execution environment: the name and kind, the annotations
that do not change (Service, FunctionVersion, FunctionAlias, ColdStart's two values), the list
of annotation keys, the metadata keys, the flags. `FlatSpans` encodes each of those once, the
first time it is seen, and keeps it; an invocation then encodes only what varies (trace, span
and parent ids, the two times, the request id, the captured response, an HTTP status, links,
the error status) and joins the pieces, with no intermediate list of pairs or message objects.

`otlp_datagrams.HandlerDatagrams` builds on these pieces for the usual handler span's whole
datagram.

The bytes are exactly those otlp.SpanConverter writes for the same span
(tests/unit/test_layer_otlp_template.py compares them on generated spans and decodes them with
opentelemetry-proto). A span this does not cover returns None and goes the general way: one
with children (unless the caller makes theirs: `in_tree`), a recorded exception (`cause`), an
`aws` block, HTTP fields beyond a response status, metadata put by other code than the layer's
(it needs the SDK's conversion), or a name that is not a str.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from lambda_tracing import documents
from lambda_tracing.backend import otlp_encode as enc

ANNOTATIONS_KEY = "aws.xray.annotations"
METADATA_PREFIX = "aws.xray.metadata."
HANDLER_MARK = "ColdStart"  # the annotation invocation.py puts on every handler span
REQUEST_ID = "RequestId"  # different in every invocation: never kept
LINKS_NAMESPACE = "lambda_tracing"  # the metadata namespace whose `links` become span links
DATAGRAM_LIMIT = 64000  # as X-Ray mode: under the 64 KB UDP limit with room to spare

_TAG = b"\x4a"  # Span.attributes
_CACHE_LIMIT = 256  # per cache: a function's constant values are a handful
_SMALL = [bytes((n,)) for n in range(128)]
_times = struct.Struct("<BQBQ").pack  # start_time_unix_nano and end_time_unix_nano, fixed64
_ERROR_STATUS = b"\x7a\x02\x18" + bytes((enc.STATUS_ERROR,))  # Status{code: ERROR}
_FLAGS = struct.Struct("<2sI").pack  # Span.flags: field 16, fixed32
_REMOTE_PARENT = _FLAGS(b"\x85\x01", enc.FLAG_SAMPLED | enc.FLAG_HAS_IS_REMOTE | enc.FLAG_IS_REMOTE)
_LOCAL_PARENT = _FLAGS(b"\x85\x01", enc.FLAG_SAMPLED | enc.FLAG_HAS_IS_REMOTE)


def _key_field(key: str) -> bytes:
    return enc._delimited(b"\x0a", enc._text(key))


def string_entry(key_field: bytes, text: bytes) -> bytes:
    """A string attribute: KeyValue{key, AnyValue{string_value}} as a Span.attributes field,
    from the encoded key field and the value's UTF-8."""
    return enc._delimited(_TAG, key_field + enc._delimited(b"\x12", enc._delimited(b"\x0a", text)))


_INVOCATION_ID = _key_field("faas.invocation_id")
_REQUEST_ID = _key_field(REQUEST_ID)
_ABSENT: Any = object()
# What entry reads of a span, in one pass (missing keys read as None, as dict.get does).
_READ = (
    "subsegments",
    "cause",
    "aws",
    "namespace",
    "name",
    "http",
    "id",
    "parent_id",
    "trace_id",
    "start_time",
    "end_time",
    "annotations",
    "metadata",
)
# Attributes a span has only when set: a flag (ERROR status), or metadata the SDK must convert.
_FLAGGED = frozenset({"fault", "error", "throttle", "_foreign_metadata"})


def _request_id_prefixes(size: int) -> tuple[bytes, bytes]:
    """What precedes a request id of `size` bytes in its two attributes (faas.invocation_id,
    RequestId): string_entry's bytes up to the text."""
    placeholder = b"\0" * size
    return (
        string_entry(_INVOCATION_ID, placeholder)[: -size or None],
        string_entry(_REQUEST_ID, placeholder)[: -size or None],
    )


def _keepable(annotations: dict[str, Any]) -> bool:
    """Annotations whose encoding may be kept, keyed by their values: strs, and ColdStart's
    bool (the request id is not in the key)."""
    return all(
        type(value) is str or (key == HANDLER_MARK and type(value) is bool)
        for key, value in annotations.items()
        if key != REQUEST_ID
    )


_SCALARS = frozenset({str, bool, int, float})


def _scalars(items: tuple[tuple[str, Any], ...]) -> bool:
    """Annotations of plain values only, whose encoding a key holding them and their types
    decides."""
    return all(type(value) in _SCALARS for _, value in items)


serialize = documents.serialize  # one process-wide C JSON encoder, made once there


def nanos(seconds: Any) -> int:
    # via microseconds (time.time()'s useful precision): seconds * 1e9 rounds in binary
    return round(seconds * 1_000_000) * 1000 if isinstance(seconds, (int, float)) else 0


def span_ids(root: Any, span_id: Any, parent: Any) -> bytes | None:
    """The ids' fields in one conversion: trace_id (1), span_id (2), parent_span_id (4) if
    any; the trace id is the root's 32 hex digits (`1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx`).
    None for ids of another form (the general way's)."""
    if type(root) is not str or len(root) != 35 or root[10] != "-" or type(span_id) is not str:
        return None
    try:
        if parent:
            ids = bytes.fromhex(f"0a10{root[2:10]}{root[11:]}1208{span_id}2208{parent}")
            if len(ids) != 38 or len(parent) != 16 or len(span_id) != 16:  # fromhex skips spaces
                return None
            return ids
        ids = bytes.fromhex(f"0a10{root[2:10]}{root[11:]}1208{span_id}")
    except (TypeError, ValueError):  # not hex (a dash elsewhere in the root): the general way's
        return None
    return ids if len(ids) == 28 and len(span_id) == 16 else None


class FlatSpans:
    """Span entries (ScopeSpans.spans fields) of spans of no other span kind than INTERNAL or
    SERVER (no AWS or remote call, no recorded exception), from the parts kept.
    `links(metadata)` gives the span's encoded Span.Link bodies (otlp._links)."""

    def __init__(self, links: Callable[[dict[str, Any]], list[bytes]]) -> None:
        self._links = links
        self._heads: tuple[dict[str, bytes], dict[str, bytes]] = ({}, {})  # name and kind fields
        # (handler, the request id's place, the other annotations' items) -> the attributes
        # before and after the request id's own
        self._sections: dict[tuple[Any, ...], tuple[bytes, bytes]] = {}
        self._request_id_prefixes: dict[int, tuple[bytes, bytes]] = {}  # by the id's length
        self._metadata_prefixes: dict[tuple[Any, int], bytes] = {}  # (namespace, JSON's size)
        self._statuses: dict[int, bytes] = {}  # http.response.status_code attributes

    def entry(
        self, node: dict[str, Any], handler: bool, remote_parent: bool, in_tree: bool = False
    ) -> bytes | None:
        """`node` (a span's attributes, as otlp._view reads them) as one span entry; None when
        it is not a span this covers. A span with children is one only `in_tree`: when the
        caller makes its children's entries too (an OTLP span's entry never holds them).

        Written for the interpreter's sake: on this path time follows the number of bytecodes
        run more than the instructions they cost (each dispatch a branch the CPU mispredicts
        often), so the attributes are read in one C-level pass, and the usual annotations
        (the request id last, the others as in the previous invocation) are spliced in here."""
        span_id: Any  # (declarations only: no bytecode)
        failed: Any
        (
            subsegments,
            cause,
            aws,
            namespace,
            name,
            http,
            span_id,
            parent,
            root,
            start,
            end,
            annotations,
            metadata,
        ) = map(node.get, _READ)
        if (
            (subsegments and not in_tree)
            or cause
            or aws
            or namespace in ("aws", "remote")
            or type(name) is not str
        ):
            return None
        failed = False
        if not node.keys().isdisjoint(_FLAGGED):  # rare: a fault, or metadata put by others
            if node.get("_foreign_metadata"):
                return None
            failed = node.get("fault") or node.get("error") or node.get("throttle")
        status_attribute = b""
        if http:
            status_attribute = self._http_status(http)
            if not status_attribute:
                return None
        ids = span_ids(root, span_id, parent)
        if ids is None:
            return None
        head = self._heads[handler].get(name) or self._head(name, handler)
        if type(start) is float and type(end) is float:
            times = _times(
                0x39, round(start * 1_000_000) * 1000, 0x41, round(end * 1_000_000) * 1000
            )
        else:
            start = nanos(start)
            times = _times(0x39, start, 0x41, start if end is None else nanos(end))
        parts = [ids, head, times, status_attribute]

        if annotations and isinstance(annotations, dict):
            items = tuple(annotations.items())
            last, request_id = items[-1]
            cold = annotations.get(HANDLER_MARK)
            cached = None
            # ColdStart as a key compares True == 1: only its bools may be looked up.
            if (
                last == REQUEST_ID
                and type(request_id) is str
                and (cold is None or cold is True or cold is False)
            ):
                try:
                    cached = self._sections.get((handler, len(items) - 1, items[:-1]))
                except TypeError:  # an unhashable value: the general way's
                    cached = None
            if cached is None:
                self._annotations(annotations, handler, parts)
            else:
                try:
                    text = request_id.encode()
                except UnicodeEncodeError:
                    text = enc._text(request_id)
                prefixes = self._request_id_prefixes.get(len(text))
                if prefixes is None:
                    prefixes = self._request_id_prefix(len(text))
                if handler:
                    parts += (prefixes[0], text, cached[0], prefixes[1], text, cached[1])
                else:
                    parts += (cached[0], prefixes[1], text, cached[1])

        if metadata and isinstance(metadata, dict):
            for space, values in metadata.items():
                text = serialize(values).encode()
                # the attribute's bytes before the JSON, by namespace and the JSON's length
                prefix = self._metadata_prefixes.get((space, len(text)))
                if prefix is None:
                    prefix = self._metadata_prefix(space, len(text))
                parts += (prefix, text)
            if LINKS_NAMESPACE in metadata:
                for link in self._links(metadata):
                    parts.append(enc._delimited(b"\x6a", link))
        if failed:
            parts.append(_ERROR_STATUS)
        parts.append(_REMOTE_PARENT if remote_parent else _LOCAL_PARENT)
        body = b"".join(parts)
        size = len(body)
        if size < 0x4000:  # ScopeSpans.spans, its length in one or two bytes (as enc.varint)
            if size < 0x80:
                return b"\x12" + _SMALL[size] + body
            return b"".join((b"\x12", bytes(((size & 0x7F) | 0x80, size >> 7)), body))
        return enc.span_entry(body)

    def _head(self, name: str, handler: bool) -> bytes:
        """The span's name and kind fields."""
        kind = enc.KIND_SERVER if handler else enc.KIND_INTERNAL
        head = enc._delimited(b"\x2a", enc._text(name)) + b"\x30" + _SMALL[kind]
        heads = self._heads[handler]
        if len(heads) < _CACHE_LIMIT:
            heads[name] = head
        return head

    def _metadata_prefix(self, space: Any, size: int) -> bytes:
        """string_entry's bytes before a JSON text of `size` bytes, for namespace `space`."""
        prefix = string_entry(_key_field(METADATA_PREFIX + str(space)), b"\0" * size)[
            : -size or None
        ]
        if type(space) is str and len(self._metadata_prefixes) < _CACHE_LIMIT:  # 1 == True
            self._metadata_prefixes[(space, size)] = prefix
        return prefix

    def _request_id_prefix(self, size: int) -> tuple[bytes, bytes]:
        prefixes = _request_id_prefixes(size)
        if len(self._request_id_prefixes) < _CACHE_LIMIT:
            self._request_id_prefixes[size] = prefixes
        return prefixes

    def _http_status(self, http: Any) -> bytes:
        """The attribute of an `http` block that holds a response status only, else b""."""
        if type(http) is not dict or len(http) != 1:
            return b""
        response = http.get("response")
        if type(response) is not dict or "status" not in response:
            return b""
        status = response["status"]
        if type(status) is not int:
            return b""
        attribute = self._statuses.get(status)
        if attribute is None:
            attribute = enc.attributes((("http.response.status_code", status),), _TAG)
            if len(self._statuses) < _CACHE_LIMIT:
                self._statuses[status] = attribute
        return attribute

    def _annotations(self, annotations: dict[str, Any], handler: bool, parts: list[bytes]) -> None:
        """The attributes annotations make: on a handler span faas.invocation_id and
        faas.coldstart first, then one per annotation, then the list of their keys. All but
        the request id's are kept, keyed by the other annotations' items and the request id's
        place, when every other value is a str or ColdStart's bool (entry finds them there for
        the usual span), or with the values' types too when other numbers are among them (as
        keys True == 1 == 1.0)."""
        items = tuple(annotations.items())
        split = len(items)  # where the request id's attribute goes among the annotations'
        request_id: Any = _ABSENT
        if REQUEST_ID in annotations:
            split = tuple(annotations).index(REQUEST_ID)
            request_id = items[split][1]
            if type(request_id) is not str:
                parts.append(self._encode_annotations(annotations, handler))
                return
        cold = annotations.get(HANDLER_MARK)
        # -1: no request id (not the place after the others, where it may be)
        place = -1 if request_id is _ABSENT else split
        others = items[:split] + items[split + 1 :]
        cache_key: tuple[Any, ...] = (handler, place, others)
        keepable = _keepable(annotations)
        if not keepable:
            # Numbers (a custom span's count, say): as keys True == 1 == 1.0, so their types
            # are part of the key (a longer key than the usual span's, which has none).
            cache_key += (tuple([type(value) for _, value in others]),)
        cached = None
        if cold is None or cold is True or cold is False:
            try:
                cached = self._sections.get(cache_key)
            except TypeError:  # an unhashable value
                cold = _ABSENT
        if cached is None:
            cached = self._split_annotations(annotations, handler, split)
            keep = cold is not _ABSENT and len(self._sections) < _CACHE_LIMIT
            if keep and (keepable or _scalars(others)):
                self._sections[cache_key] = cached
        if request_id is _ABSENT:
            parts += cached
            return
        try:
            text = request_id.encode()
        except UnicodeEncodeError:
            text = enc._text(request_id)
        prefixes = self._request_id_prefixes.get(len(text)) or self._request_id_prefix(len(text))
        if handler:
            parts += (prefixes[0], text, cached[0], prefixes[1], text, cached[1])
        else:
            parts += (cached[0], prefixes[1], text, cached[1])

    @staticmethod
    def _split_annotations(
        annotations: dict[str, Any], handler: bool, split: int
    ) -> tuple[bytes, bytes]:
        """(the attributes before the request id's, those after it), as the general way
        writes them; faas.invocation_id, written before both, is not in them."""
        items = list(annotations.items())
        before: list[tuple[str, Any]] = []
        if handler and HANDLER_MARK in annotations:
            before.append(("faas.coldstart", bool(annotations[HANDLER_MARK])))
        before.extend(items[:split])
        after = items[split + 1 :]
        after.append((ANNOTATIONS_KEY, tuple(annotations)))
        return enc.attributes(before, _TAG), enc.attributes(after, _TAG)

    @staticmethod
    def _encode_annotations(annotations: dict[str, Any], handler: bool) -> bytes:
        """All of them the general way (a request id that is not a str)."""
        pairs: list[tuple[str, Any]] = []
        if handler:
            pairs.append(("faas.invocation_id", annotations[REQUEST_ID]))
            if HANDLER_MARK in annotations:
                pairs.append(("faas.coldstart", bool(annotations[HANDLER_MARK])))
        pairs.extend(annotations.items())
        pairs.append((ANNOTATIONS_KEY, tuple(annotations)))
        return enc.attributes(pairs, _TAG)
