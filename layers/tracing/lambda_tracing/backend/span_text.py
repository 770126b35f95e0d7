"""Span documents written directly, for the shapes backend.entities.Span makes: no document
dict, the maps inside the only parts left to the JSON encoder. The text is serialize(to_dict())'s
but for the times, written to the microsecond (X-Ray's recommended resolution; a float's
shortest repr costs twice as much). Spans of any other shape raise (tree_text) or are refused
(usual_values), and the caller serializes to_dict().

Read through the attribute dict (`vars(span)`): the keys' order tells the shape in one
comparison, and one itemgetter call reads the values.
"""

from __future__ import annotations

from collections.abc import Mapping
from operator import itemgetter
from typing import Any

from lambda_tracing.documents import serialize, subsegment_text

# A closed, sent top-level span's attributes, in the order Span.__init__, close() and the
# backend set them: the usual handler span, whose document to_dict makes without its loop.
_USUAL_KEYS = (
    "id",
    "name",
    "start_time",
    "parent_id",
    "sampled",
    "in_progress",
    "http",
    "annotations",
    "metadata",
    "aws",
    "cause",
    "subsegments",
    "parent_segment",
    "_parent",
    "trace_id",
    "type",
    "namespace",
    "sql",
    "end_time",
    "_sent",
)
# What the usual handler span's document holds, in order (metadata may be empty).
_DOCUMENT_KEYS = (
    "id",
    "name",
    "start_time",
    "parent_id",
    "annotations",
    "metadata",
    "trace_id",
    "type",
    "namespace",
    "end_time",
)
_read_document = itemgetter(*_DOCUMENT_KEYS)
_read_empty = itemgetter("http", "aws", "cause", "subsegments", "sql")
_read_required = itemgetter(*(key for key in _DOCUMENT_KEYS if key != "metadata"))
# A closed child span's attributes: a top-level span's but `_sent`, set only on those.
_CHILD_KEYS = _USUAL_KEYS[:-1]
# A closed span's fields, in its attributes' order: all but the links and flags Span keeps for
# itself (tree_text and otlp_calls unpack them in this order).
_NODE_KEYS = tuple(
    key for key in _CHILD_KEYS if key not in ("sampled", "parent_segment", "_parent")
)
_read_node = itemgetter(*_NODE_KEYS)


def usual_values(attributes: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """A closed, sent top-level span of the usual shape (every kept value set but metadata,
    which may be empty; the others empty): its document's values in _read_document's order;
    else None."""
    if (  # cheapest refusals first: a span with children or of another size
        len(attributes) == len(_USUAL_KEYS)
        and not attributes.get("subsegments")
        and tuple(attributes) == _USUAL_KEYS
        and attributes["in_progress"] is False
    ):
        kept = _read_document(attributes)
        if (all(kept) or (not kept[5] and all(_read_required(attributes)))) and not any(
            _read_empty(attributes)
        ):
            return kept
    return None


def tree_text(attributes: Mapping[str, Any]) -> str:
    """The document of a closed span and its children (a span's attributes), as serialize(
    to_dict()) writes it but for the times (to the microsecond, as usual_subsegment_text
    writes them), when every span in it has the attributes Span gives it (maps and children
    as they may be; no cause, SQL, flag or metadata put by other code) and is closed. Anything
    else raises ValueError or TypeError: the caller then serializes to_dict().

    What it saves: to_dict's per-key loop over every span, and the encoder's float reprs.
    (README, Performance: the instructions per invocation with and without it.)"""
    keys = tuple(attributes)
    if keys != _CHILD_KEYS and keys != _USUAL_KEYS:
        raise ValueError("not a span of the usual shape")
    (
        span_id,
        name,
        start,
        parent,
        in_progress,
        http,
        annotations,
        metadata,
        aws,
        cause,
        children,
        trace,
        kind,
        namespace,
        sql,
        end,
    ) = _read_node(attributes)
    # to_dict leaves out empty values: here the fields must be set, and cause and SQL empty
    # (a flag, `fault` say, is a key of its own: the keys' check refused it).
    if in_progress is not False or cause or sql:
        raise ValueError("an open span, or one with a cause or SQL")
    if (  # to_dict keeps a False (by identity: no user __eq__ runs)
        http is False
        or annotations is False
        or metadata is False
        or aws is False
        or cause is False
        or children is False
        or sql is False
    ):
        raise ValueError("a field set to False")
    if not (span_id and name and start and parent and trace and kind and namespace and end):
        raise ValueError("a span without one of its fields")
    blocks = ""
    if http:
        blocks += f'"http":{serialize(http)},'
    if annotations:
        blocks += f'"annotations":{serialize(annotations)},'
    if metadata:
        blocks += f'"metadata":{serialize(metadata)},'
    if aws:
        blocks += f'"aws":{serialize(aws)},'
    if children:
        texts = [tree_text(vars(child)) for child in children]
        blocks += f'"subsegments":[{",".join(texts)}],'
    return subsegment_text(span_id, name, start, parent, blocks, trace, kind, namespace, end)
