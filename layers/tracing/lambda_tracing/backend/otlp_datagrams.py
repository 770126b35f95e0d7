"""The usual handler span's whole OTLP datagram, from a skeleton kept per shape.

The usual handler span has no children, no flags, its request id as its last annotation and one
metadata namespace (the captured response). Beyond otlp_template.FlatSpans' pieces, its whole
datagram (framing and base64 included) is kept as a skeleton per shape. An invocation fills its
ids, times, request id and response JSON into the skeleton's bytes format and base64-encodes
only what follows the kept prefix. The shape last used is checked first (`usual`: the span read
in one C call, its annotations compared with the shape's as one dict; `usual_handler` reads a
HandlerSpan's fields directly); others by a key built of the span (`datagram`), learnt from
FlatSpans' bytes the first time a shape is seen.

Written for the interpreter: OTLP mode's usual invocation once ran as many instructions as X-Ray
mode's but took a quarter longer, in many more bytecodes (cachegrind: more branch and
instruction-cache misses). `usual` ran 233 bytecodes and called no other Python function
(127.4k instructions per no-op invocation when written, X-Ray mode then 162.8k; callgrind,
host CPython 3.11); it now shares its second half (`_fill`) with `usual_handler`.

The bytes are exactly those FlatSpans (and so otlp.SpanConverter) writes for the same span:
tests/unit/test_layer_otlp_template.py compares them on generated spans.
"""

from __future__ import annotations

from binascii import b2a_base64
from operator import itemgetter
from typing import Any

from lambda_tracing import documents
from lambda_tracing.backend import otlp_encode as enc
from lambda_tracing.backend.otlp_template import (
    _CACHE_LIMIT,
    _FLAGGED,
    _READ,
    _REMOTE_PARENT,
    DATAGRAM_LIMIT,
    HANDLER_MARK,
    LINKS_NAMESPACE,
    REQUEST_ID,
    FlatSpans,
    _times,
    serialize,
)

# What HandlerDatagrams.usual reads of a span, in one C call (a missing key: not the usual span).
_READ_USUAL = itemgetter(
    "subsegments",
    "cause",
    "aws",
    "http",
    "_parent",
    "parent_segment",
    "name",
    "namespace",
    "annotations",
    "metadata",
    "trace_id",
    "id",
    "parent_id",
    "start_time",
    "end_time",
)
# The root's, span id's, parent's and ids fields' lengths, and the root's second dash.
_ID_SIZES = (35, "-", 16, 16, 38)
# That encoder called without serialize's own frame, once per invocation in `usual` (a call
# there costs about a third of what the encoding does); serialize itself where there is none.
_json_chunks = getattr(documents, "_C_ENCODE", None) or (lambda value, _: (serialize(value),))


class HandlerDatagrams:
    """Whole datagrams (framing, then the base64 request) of the usual handler span: no
    children, no flags, no HTTP block, the request id its last annotation, one metadata
    namespace (the captured response). Such spans are alike from one invocation to the next
    but for their ids, times, request id and JSON text; the rest of the datagram (FlatSpans'
    pieces, the span's and the request's lengths, the framing and base64 of all that precedes
    the ids) is kept as a skeleton per shape, learnt from FlatSpans.entry's bytes the first
    time a shape is seen (and kept only when it gives them back, and its datagrams fit), so an
    invocation fills one bytes format and encodes one base64 of about half the request."""

    def __init__(self, flat: FlatSpans, frame: enc.RequestFrame, framing: bytes) -> None:
        self._flat = flat
        self._frame = frame
        self._framing = framing
        # (name, namespace, annotations but the request id, metadata namespace, the request
        # id's and the JSON's lengths) -> (framing and the base64 of the request's whole
        # 3-byte groups before the ids; the rest of the request as a bytes format, the ids,
        # times, request id twice and JSON its five `%b`)
        self._skeletons: dict[tuple[Any, ...], tuple[bytes, bytes]] = {}
        # The last shape a skeleton was used or learnt for, as `usual` checks it: (the
        # annotations as a dict, the request id's value replaced at each check; their keys in
        # order; ColdStart's value; name; namespace; (metadata namespace, the request id's and
        # the JSON's lengths) -> skeleton). `_shapes` keeps one per shape seen.
        self._shape: tuple[Any, ...] | None = None
        self._shapes: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    def usual(self, node: Any) -> bytes | None:
        """The datagram of `node` (a span's attributes) when it is the usual handler span of
        the last shape seen, from that shape's skeleton: None for anything else (then
        `datagram`, or the general way). The same bytes as `datagram`; it only checks less,
        and in fewer bytecodes: the span's fields in one read, the annotations as one dict
        comparison (and one of their keys' order) with the shape's, not a key built of them.

        Written for the interpreter's sake (see the module's docstring): this runs once per
        invocation, and every operation here costs more there than in a loop of its own."""
        if self._shape is None:
            return None
        try:
            (
                subsegments,
                cause,
                aws,
                http,
                parent,
                segment,
                name,
                namespace,
                annotations,
                metadata,
                root,
                span_id,
                parent_id,
                start,
                end,
            ) = _READ_USUAL(node)
            if (
                subsegments
                or cause
                or aws
                or http
                or parent is not segment  # not a top-level span
                or not node.keys().isdisjoint(_FLAGGED)
            ):
                return None
        except Exception:  # noqa: BLE001 - anything unusual (a missing key...)
            return None
        return self._fill(
            name, namespace, annotations, metadata, root, span_id, parent_id, start, end
        )

    def usual_handler(self, span: Any) -> bytes | None:
        """`usual` for a HandlerSpan only the wrapper wrote (backend.handler_span): no children,
        cause, aws block or flag by construction, and its fields read from it, not from a dict
        of a span's attributes."""
        if self._shape is None or span.status is not None:  # a status: the Span's way
            return None
        facade = span.facade
        return self._fill(
            span.name,
            "local",
            span.annotations,
            span.metadata,
            facade.trace_id,
            span.id,
            facade.id,
            span.start_time,
            span.end_time,
        )

    def _fill(
        self,
        name: Any,
        namespace: Any,
        annotations: Any,
        metadata: Any,
        root: Any,
        span_id: Any,
        parent_id: Any,
        start: Any,
        end: Any,
    ) -> bytes | None:
        """The datagram of the usual handler span of these fields, from the last shape's
        skeleton; None when they are not of that shape."""
        template, keys, cold, known_name, known_namespace, sizes = self._shape  # type: ignore[misc]
        try:
            # dict's own methods: TypeError for what is not a dict, as FlatSpans takes none
            request_id = template[REQUEST_ID] = dict.get(annotations, REQUEST_ID)
            # Equal dicts, the same keys in the same order (the request id's last), ColdStart
            # the same bool (as a value True == 1, and the template's others are all strs).
            if (
                type(request_id) is not str
                or annotations != template
                or tuple(annotations) != keys
                or annotations[HANDLER_MARK] is not cold
                or name != known_name
                or namespace != known_namespace
            ):
                return None
            ((space, values),) = dict.items(metadata)
            text = "".join(_json_chunks(values, 0)).encode()
            rid = request_id.encode()
            skeleton = sizes.get((space, len(rid), len(text)))
            if skeleton is None:
                return None
            ids = bytes.fromhex(f"0a10{root[2:10]}{root[11:]}1208{span_id}2208{parent_id}")
            if (len(root), root[10], len(span_id), len(parent_id), len(ids)) != _ID_SIZES:
                return None
            times = _times(
                0x39, round(start * 1_000_000) * 1000, 0x41, round(end * 1_000_000) * 1000
            )
        except Exception:  # noqa: BLE001 - anything unusual (surrogates, a missing key...)
            return None
        prefix, body = skeleton
        return prefix + b2a_base64(body % (ids, times, rid, rid, text), newline=False)

    def _remember(self, key: tuple[Any, ...], skeleton: tuple[bytes, bytes]) -> None:
        """Make `key`'s shape the one `usual` checks first."""
        name, namespace, others, space, rid_size, text_size = key
        shape = self._shapes.get(key[:3])
        if shape is None:
            if len(self._shapes) >= _CACHE_LIMIT:
                return
            template = dict(others)
            template[REQUEST_ID] = None
            keys = (*template,)
            shape = (template, keys, template[HANDLER_MARK], name, namespace, {})
            self._shapes[key[:3]] = shape
        shape[5][(space, rid_size, text_size)] = skeleton
        self._shape = shape

    def datagram(self, node: dict[str, Any]) -> bytes | None:
        """The datagram of `node`, a handler span (SERVER, its parent Lambda's segment); None
        when FlatSpans does not cover it (the general way's)."""
        span_id: Any  # (declarations only: no bytecode)
        parent: Any
        root: Any
        rid: Any
        text: Any
        start: Any
        end: Any
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
        key = skeleton = rid = text = None
        if (
            type(annotations) is dict
            and annotations
            and type(metadata) is dict
            and len(metadata) == 1
            and not (subsegments or cause or aws or http)
            and node.keys().isdisjoint(_FLAGGED)
        ):
            items = tuple(annotations.items())
            last, request_id = items[-1]
            cold = annotations.get(HANDLER_MARK)
            # ColdStart as a key compares True == 1: only its bools may be looked up.
            if last == REQUEST_ID and type(request_id) is str and (cold is True or cold is False):
                ((space, values),) = metadata.items()
                text = serialize(values).encode()
                try:
                    rid = request_id.encode()
                    key = (name, namespace, items[:-1], space, len(rid), len(text))
                    skeleton = self._skeletons.get(key)
                except (UnicodeEncodeError, TypeError):  # surrogates; an unhashable value
                    key = None
        if skeleton is not None:
            try:
                # as FlatSpans.entry: the ids in one conversion, the times via microseconds
                ids = bytes.fromhex(f"0a10{root[2:10]}{root[11:]}1208{span_id}2208{parent}")
                times = _times(
                    0x39, round(start * 1_000_000) * 1000, 0x41, round(end * 1_000_000) * 1000
                )
            except (ValueError, TypeError):
                ids = b""
            if (
                len(ids) == 38
                and len(root) == 35
                and root[10] == "-"
                and len(span_id) == 16
                and len(parent) == 16
            ):
                self._remember(key, skeleton)  # type: ignore[arg-type]
                prefix, body = skeleton
                return prefix + b2a_base64(body % (ids, times, rid, rid, text), newline=False)
            key = None  # kept already: this span's ids are for the general checks
        entry = self._flat.entry(node, True, True)
        if entry is None:
            return None
        if key is not None and len(self._skeletons) < _CACHE_LIMIT:
            self._learn(key, entry, rid, text)
        return self._frame.datagram(self._framing, entry)

    def _learn(self, key: tuple[Any, ...], entry: bytes, rid: bytes, text: bytes) -> None:
        """The skeleton of `key`'s shape, from the pieces FlatSpans kept writing `entry`; kept
        only when, around `entry`'s own ids and times, they give `entry` back (checked here,
        before any invocation can use it: a shape they do not make, links, is left out)."""
        name, _, others, space, rid_size, text_size = key
        if space == LINKS_NAMESPACE:  # its links are more than its JSON: never from a skeleton
            return
        flat = self._flat
        head = flat._heads[True].get(name)
        sections = flat._sections.get((True, len(others), others))
        prefixes = flat._request_id_prefixes.get(rid_size)
        json_prefix = flat._metadata_prefixes.get((space, text_size))
        if head is None or sections is None or prefixes is None or json_prefix is None:
            return
        first, middle, last = prefixes[0], sections[0] + prefixes[1], sections[1] + json_prefix
        size = 38 + 18 + 2 * rid_size + text_size + len(_REMOTE_PARENT)
        size += len(head) + len(first) + len(middle) + len(last)
        entry_start = b"\x12" + enc.varint(size)
        body = entry[len(entry_start) :]
        ids, times = body[:38], body[38 + len(head) : 56 + len(head)]
        pieces = (ids, head, times, first, rid, middle, rid, last, text, _REMOTE_PARENT)
        if entry_start + b"".join(pieces) != entry:
            return
        before = self._frame.prefix(len(entry)) + entry_start
        whole = len(before) - len(before) % 3
        encoded = self._framing + b2a_base64(before[:whole], newline=False)
        encoded_size = (len(before) - whole + len(entry) - len(entry_start) + 2) // 3 * 4
        if len(encoded) + encoded_size > DATAGRAM_LIMIT:
            return  # its datagrams go the general way, cut down: never from a skeleton
        # The request from the ids on, as a bytes format: the kept pieces, %-escaped, around
        # the ids, times, request ids and JSON.
        kept = (before[whole:], head, first, middle, last, _REMOTE_PARENT)
        body = b"%b".join(piece.replace(b"%", b"%%") for piece in kept)
        skeleton = (encoded, body)
        self._skeletons[key] = skeleton
        self._remember(key, skeleton)
