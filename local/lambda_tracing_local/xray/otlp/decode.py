"""OTLP trace requests from the wire: ADOT's UDP framing and OTLP/HTTP bodies.

ADOT's OTLPUdpSpanExporter (aws-otel-python-instrumentation, otlp_udp_exporter.py) sends one
datagram per export: the daemon's header line, "\\n", then "T1S" (sampled) or "T1U"
(unsampled), then the base64 of a protobuf ExportTraceServiceRequest. OTLP/HTTP bodies are
that message as protobuf or as OTLP/JSON (ids in hex, not base64), gzip-compressed or not.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

SAMPLED_PREFIX = b"T1S"
UNSAMPLED_PREFIX = b"T1U"
METRICS_PREFIX = b"M1"
# X-Ray's OTLP endpoint: "5 MB per request" (X-Ray endpoints and quotas).
MAX_REQUEST_BYTES = 5 * 1024 * 1024
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
ID_FIELDS = ("traceId", "spanId", "parentSpanId")


class OtlpError(ValueError):
    """A datagram or request that is not a readable OTLP trace request."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(f"otlp: {message}")
        self.message = message
        self.status = status  # for OTLP/HTTP: 400 bad body, 413 too large, 415 content type


def is_otlp_body(body: bytes) -> bool:
    """Whether a daemon datagram's body (after the header line) is in ADOT's OTLP framing."""
    return body[:3] in (SAMPLED_PREFIX, UNSAMPLED_PREFIX) or body[:2] == METRICS_PREFIX


def decode_datagram_body(body: bytes) -> tuple[ExportTraceServiceRequest, bool]:
    """(request, sampled) from the part of an ADOT datagram after the header line."""
    if body[:2] == METRICS_PREFIX:
        raise OtlpError("M1 (OTLP metrics) datagram: the X-Ray daemon takes traces only")
    sampled = body[:3] == SAMPLED_PREFIX
    try:
        payload = base64.b64decode(body[3:], validate=True)
    except (binascii.Error, ValueError) as error:
        raise OtlpError(f"{body[:3].decode()} datagram is not base64: {error}") from None
    return parse_protobuf(payload), sampled


def parse_protobuf(payload: bytes) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(payload)
    except (DecodeError, ValueError) as error:  # ValueError: e.g. a recursion limit
        raise OtlpError(f"not an OTLP ExportTraceServiceRequest protobuf: {error}") from None
    return request


def decompress(body: bytes, encoding: str) -> bytes:
    """The body with its Content-Encoding undone, never more than MAX_REQUEST_BYTES."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise OtlpError(f"Content-Encoding {encoding!r} is not supported (use gzip or none)", 415)
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        # One byte past the limit tells an oversize body from one exactly at it, without
        # inflating a gzip bomb any further.
        data = inflater.decompress(body, MAX_REQUEST_BYTES + 1)
    except zlib.error as error:
        raise OtlpError(f"body is not gzip: {error}") from None
    if len(data) > MAX_REQUEST_BYTES:
        raise OtlpError(f"uncompressed body is over the {MAX_REQUEST_BYTES} byte limit", 413)
    if not inflater.eof:
        raise OtlpError("gzip body is truncated")
    return data


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def decode_http_body(
    body: bytes, content_type: str, encoding: str = ""
) -> ExportTraceServiceRequest:
    """The request from an OTLP/HTTP body of the given Content-Type and Content-Encoding."""
    kind = media_type(content_type)
    if kind not in (PROTOBUF, JSON):
        raise OtlpError(
            f"Content-Type {content_type or '(none)'!r} is not OTLP: use {PROTOBUF} or {JSON}",
            415,
        )
    data = decompress(body, encoding)
    return parse_protobuf(data) if kind == PROTOBUF else parse_json(data)


def parse_json(data: bytes) -> ExportTraceServiceRequest:
    """OTLP/JSON: protobuf's JSON mapping, except that trace and span ids are hex."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise OtlpError(f"body is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise OtlpError('body is not an OTLP/JSON object (expected {"resourceSpans": [...]})')
    try:
        _ids_to_base64(document)
        request = ExportTraceServiceRequest()
        return json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, AttributeError) as error:
        raise OtlpError(f"not an OTLP/JSON ExportTraceServiceRequest: {error}") from None


def _ids_to_base64(document: dict[str, Any]) -> None:
    """OTLP/JSON writes ids as hex strings where protobuf's JSON mapping expects base64."""
    for resource_spans in _objects(document.get("resourceSpans")):
        for scope_spans in _objects(resource_spans.get("scopeSpans")):
            for span in _objects(scope_spans.get("spans")):
                _convert_ids(span, "span")
                for link in _objects(span.get("links")):
                    _convert_ids(link, "link")


def _objects(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ValueError(f"expected a list of objects, got {type(value).__name__}")
    return value


def _convert_ids(item: dict[str, Any], what: str) -> None:
    for name in ID_FIELDS:
        value = item.get(name)
        if value in (None, ""):
            continue
        try:
            item[name] = base64.b64encode(bytes.fromhex(value)).decode()
        except (TypeError, ValueError):
            raise ValueError(f"{what} {name} {value!r} is not hex") from None
