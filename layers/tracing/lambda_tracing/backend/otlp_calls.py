"""Traced calls' spans, mostly pre-encoded: what a botocore or HTTP call adds to an OTLP invocation.

A call site's spans differ mostly in their ids and times: the service and operation (the span's
name), the region, the resource (table, queue, topic, ...) and the HTTP status are the same from
one call to the next. `CallSpans` keeps, per such shape, the name and kind fields and the
attributes, encoded once by the general way's own functions (otlp_attributes, otlp_encode); a
call then encodes its ids and times, and the attributes of the `aws` fields that differ from
call to call (the request id, S3's id_2 and object key, a message id, counts: every field but
those naming the resource, SITE_FIELDS), and joins the pieces. An HTTP call's span is kept per
method, URL and status. Each cache holds 256 shapes; a shape not kept once it is full goes the
general way (learning it would cost more than that).

The bytes are exactly those otlp.SpanConverter writes for the same span
(tests/unit/test_layer_otlp_calls.py compares them on generated spans and decodes them with
opentelemetry-proto). A span of any other shape returns None and goes the general way: another
namespace, open, with a recorded exception, a flag, annotations, metadata or children, an AWS
call with HTTP fields beyond a response status or an `aws` field that is not a str key with a
str or int value, an HTTP call with `aws` fields or request fields that are not strs.
"""

from __future__ import annotations

from typing import Any

from lambda_tracing.backend import otlp_encode as enc
from lambda_tracing.backend.otlp_attributes import SERVICE_IDS, aws_attributes, http_attributes
from lambda_tracing.backend.otlp_template import (
    _CACHE_LIMIT,
    _LOCAL_PARENT,
    _REMOTE_PARENT,
    _SMALL,
    _TAG,
    _times,
    span_ids,
)
from lambda_tracing.backend.span_text import _CHILD_KEYS, _USUAL_KEYS, _read_node

# The aws fields that name the call site's resource: kept in the shape. Any other field's value
# (request id, S3's id_2, a message id, counts) is encoded per call.
SITE_FIELDS = frozenset(
    {
        "operation",
        "region",
        "table_name",
        "queue_url",
        "topic_arn",
        "function_name",
        "bucket_name",
        "stream_name",
        "event_bus_name",
    }
)
_REQUEST_FIELDS = ("method", "url", "user_agent", "client_ip")  # what http_attributes reads


class _PerCall:
    """A field's place among the pairs while a shape is learnt."""

    def __init__(self, field: str) -> None:
        self.field = field


class CallSpans:
    """Span entries (ScopeSpans.spans fields) of traced AWS and HTTP calls of the usual shape."""

    def __init__(self) -> None:
        # ("aws", name, HTTP status, each aws field: (key, value), or its key alone when its
        # value is encoded per call) -> (the name and kind fields, then the attributes: bytes,
        # or (attribute name, aws field) for a value encoded per call)
        self._shapes: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        # ("remote", name, status, method, URL, user agent, client address) -> the same
        self._remote_shapes: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    def entry(self, node: dict[str, Any], remote_parent: bool) -> bytes | None:
        """`node` (a span's attributes) as one span entry; None when it is not an AWS or HTTP
        call span of the usual shape."""
        keys = tuple(node)
        if keys != _CHILD_KEYS and keys != _USUAL_KEYS:  # a flag or foreign metadata: a key
            return None
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
            root,
            _,
            namespace,
            sql,
            end,
        ) = _read_node(node)
        if (
            in_progress is not False
            or cause
            or sql
            or annotations
            or metadata
            or children
            or type(aws) is not dict
            or type(name) is not str
            or type(start) is not float
            or type(end) is not float
        ):
            return None
        shape: list[Any] | None
        if namespace == "aws":
            status = None
            if http:
                response = http.get("response") if type(http) is dict and len(http) == 1 else None
                if type(response) is not dict or len(response) != 1:
                    return None
                status = response.get("status")
                if type(status) is not int:
                    return None
            shape = ["aws", name, status]
            for key, value in aws.items():
                kind = type(value)
                # str keys only: as keys True == 1 == 1.0, and their attributes' names differ;
                # not bool values, for the same reason
                if type(key) is not str or (kind is not str and kind is not int):
                    return None
                shape.append((key, value) if key in SITE_FIELDS else key)
            kept = self._shapes
        elif namespace == "remote" and not aws and type(http) is dict:
            shape = _remote_shape(name, http)
            if not shape:
                return None
            kept = self._remote_shapes
        else:
            return None
        ids = span_ids(root, span_id, parent)
        if ids is None:
            return None
        known = tuple(shape)  # strs, ints and None only: hashable
        pieces = kept.get(known)
        if pieces is None:
            if len(kept) >= _CACHE_LIMIT:  # one-off values: learning costs more than it saves
                return None
            pieces = self._learn(known, name, aws, http)
            kept[known] = pieces
        times = _times(0x39, round(start * 1_000_000) * 1000, 0x41, round(end * 1_000_000) * 1000)
        parts = [ids, pieces[0], times]
        for piece in pieces[1:]:
            if type(piece) is bytes:
                parts.append(piece)
                continue
            value = aws[piece[1]]
            if value != "":  # as aws_attributes: an empty string is left out
                parts.append(enc.attributes(((piece[0], value),), _TAG))
        parts.append(_REMOTE_PARENT if remote_parent else _LOCAL_PARENT)
        return enc.span_entry(b"".join(parts))

    def _learn(
        self, shape: tuple[Any, ...], name: str, aws: dict[str, Any], http: Any
    ) -> tuple[Any, ...]:
        """The pieces of `shape`, from the pairs the general way makes (otlp.SpanConverter):
        the name and kind fields, then runs of encoded attributes and the places of the values
        encoded per call."""
        pairs: list[tuple[str, Any]] = []
        if shape[0] == "aws":
            service = SERVICE_IDS.get(name, name)
            span_name = f"{service}.{aws['operation']}" if aws.get("operation") else service
            # every field's place, the empty ones' too (their value may not be, next time)
            probe = {
                key: _PerCall(key) if key not in SITE_FIELDS else value
                for key, value in aws.items()
            }
            pairs += (("rpc.system", "aws-api"), ("rpc.service", service))
            aws_attributes(probe, pairs, True)
            if http:
                http_attributes(http, pairs)
        else:  # an HTTP call: named after its method
            span_name = http_attributes(http, pairs) or name
        pieces: list[Any] = [
            enc._delimited(b"\x2a", enc._text(span_name)) + b"\x30" + _SMALL[enc.KIND_CLIENT]
        ]
        run: list[tuple[str, Any]] = []
        for attribute, value in pairs:
            if isinstance(value, _PerCall):
                pieces += (enc.attributes(run, _TAG), (attribute, value.field))
                run = []
            else:
                run.append((attribute, value))
        pieces.append(enc.attributes(run, _TAG))
        return tuple(piece for piece in pieces if piece != b"")


def _remote_shape(name: str, http: dict[str, Any]) -> list[Any] | None:
    """What an HTTP call's attributes and name are made of (otlp_attributes.http_attributes
    reads these), when each is a str (the status an int) or absent; else None."""
    request = http.get("request") or {}
    response = http.get("response") or {}
    if type(request) is not dict or type(response) is not dict:
        return None
    shape: list[Any] = ["remote", name, response.get("status")]
    if shape[2] is not None and type(shape[2]) is not int:
        return None
    for field in _REQUEST_FIELDS:
        value = request.get(field)
        if value is not None and type(value) is not str:
            return None
        shape.append(value)
    return shape
