"""Traced calls' spans, mostly pre-encoded: what a botocore or HTTP call adds to an OTLP invocation.

A call site's spans differ only in their ids, times and request id: the service and operation
(the span's name), the region, the resource (table, queue, topic, ...) and the HTTP status are
the same from one call to the next. `CallSpans` keeps, per such shape, the name and kind fields
and the attributes before and after the request id's, encoded once by the general way's own
functions (otlp_attributes, otlp_encode); a call then encodes its ids, times and request id and
joins the pieces. Before this, OTLP mode's span of one botocore call cost about 76k instructions
more than X-Ray mode's (as Lambda runs it, CPython 3.13).

The bytes are exactly those otlp.SpanConverter writes for the same span
(tests/unit/test_layer_otlp_calls.py compares them on generated spans and decodes them with
opentelemetry-proto). An HTTP call's span (namespace `remote`) is kept the same way, per method,
URL and status (in a cache of its own: one-off URLs must not crowd out the AWS call sites). A
span of any other shape returns None and goes the general way: another namespace, open, with a
recorded exception, a flag, annotations, metadata or children, an AWS call with HTTP fields
beyond a response status or an `aws` value that is not a str or int, an HTTP call with `aws`
fields or request fields that are not strs.
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
    _key_field,
    _times,
    span_ids,
    string_entry,
)
from lambda_tracing.backend.span_text import _CHILD_KEYS, _USUAL_KEYS, _read_node

_REQUEST_ID_FIELD = _key_field("aws.request_id")
_PROBE: Any = type("RequestIdPlace", (), {})()  # where the request id goes among the pairs
_REQUEST_FIELDS = ("method", "url", "user_agent", "client_ip")  # what http_attributes reads


class CallSpans:
    """Span entries (ScopeSpans.spans fields) of traced AWS and HTTP calls of the usual shape."""

    def __init__(self) -> None:
        # (name, HTTP status, the aws items but the request id's value) -> (the name and kind
        # fields, the attributes before the request id's, those after it)
        self._shapes: dict[tuple[Any, ...], tuple[bytes, bytes, bytes]] = {}
        self._remote_shapes: dict[tuple[Any, ...], tuple[bytes, bytes, bytes]] = {}  # HTTP calls'
        self._prefixes: dict[int, bytes] = {}  # the request id's attribute before its text

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
        request_id = None
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
                if key == "request_id" and kind is str and value:
                    request_id = value
                    shape.append(key)
                elif kind is str or kind is int:  # not bool: as a key, True == 1
                    shape.append((key, value))
                else:
                    return None
        elif namespace == "remote" and not aws and type(http) is dict:
            shape = _remote_shape(name, http)
            if not shape:
                return None
        else:
            return None
        ids = span_ids(root, span_id, parent)
        if ids is None:
            return None
        known = tuple(shape)  # strs, ints and None only: hashable
        pieces = (self._shapes if shape[0] == "aws" else self._remote_shapes).get(known)
        if pieces is None:
            pieces = self._learn(known, name, aws, http, request_id is not None)
        head, before, after = pieces
        times = _times(0x39, round(start * 1_000_000) * 1000, 0x41, round(end * 1_000_000) * 1000)
        flags = _REMOTE_PARENT if remote_parent else _LOCAL_PARENT
        if request_id is None:
            return enc.span_entry(b"".join((ids, head, times, before, flags)))
        try:
            text = request_id.encode()
        except UnicodeEncodeError:
            text = enc._text(request_id)
        prefix = self._prefixes.get(len(text)) or self._prefix(len(text))
        return enc.span_entry(b"".join((ids, head, times, before, prefix, text, after, flags)))

    def _learn(
        self, shape: tuple[Any, ...], name: str, aws: dict[str, Any], http: Any, request_id: bool
    ) -> tuple[bytes, bytes, bytes]:
        """The pieces of `shape`, from the pairs the general way makes (otlp.SpanConverter)."""
        pairs: list[tuple[str, Any]] = []
        if shape[0] == "aws":
            service = SERVICE_IDS.get(name, name)
            span_name = f"{service}.{aws['operation']}" if aws.get("operation") else service
            probe = dict(aws)
            if request_id:
                probe["request_id"] = _PROBE
            pairs += (("rpc.system", "aws-api"), ("rpc.service", service))
            aws_attributes(probe, pairs, True)
            if http:
                http_attributes(http, pairs)
        else:  # an HTTP call: named after its method
            span_name = http_attributes(http, pairs) or name
        head = enc._delimited(b"\x2a", enc._text(span_name)) + b"\x30" + _SMALL[enc.KIND_CLIENT]
        split = len(pairs)
        for index, (_, value) in enumerate(pairs):
            if value is _PROBE:
                split = index
        pieces = (
            head,
            enc.attributes(pairs[:split], _TAG),
            enc.attributes(pairs[split + 1 :], _TAG),
        )
        # HTTP calls' own cache: one-off URLs must not crowd out the AWS call sites.
        kept = self._shapes if shape[0] == "aws" else self._remote_shapes
        if len(kept) < _CACHE_LIMIT:
            kept[shape] = pieces
        return pieces

    def _prefix(self, size: int) -> bytes:
        """The request id's attribute up to its text, for a text of `size` bytes."""
        prefix = string_entry(_REQUEST_ID_FIELD, b"\0" * size)[:-size]
        if len(self._prefixes) < _CACHE_LIMIT:
            self._prefixes[size] = prefix
        return prefix


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
