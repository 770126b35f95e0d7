"""OTLP into the store: the daemon's OTLP datagrams and POST /v1/traces.

Both decode a request (decode.py), convert its spans (convert.py), hold each document to the
rules X-Ray applies to a segment document from an SDK (documents.validate: a conversion bug
costs a span, never the store's consistency), and store the documents beside the SDKs' ones.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..documents import InvalidDocument, validate
from ..store import TraceStore, row_for
from .convert import MAX_MESSAGES, MAX_SPANS_PER_REQUEST, convert_request, count_spans
from .decode import (
    JSON,
    PROTOBUF,
    OtlpError,
    decode_datagram_body,
    decode_http_body,
    media_type,
)

log = logging.getLogger(__name__)


@dataclass
class Intake:
    """What became of one datagram's or request's spans."""

    spans: int = 0
    rows: list[tuple] = field(default_factory=list)
    rejected: int = 0
    unsampled: int = 0  # T1U spans: counted, never stored
    messages: list[str] = field(default_factory=list)


def take_request(request: Any, now: float, sampled: bool = True) -> Intake:
    intake = Intake(spans=count_spans(request))
    if not sampled:
        # X-Ray keeps no trace of unsampled spans: ADOT sends them so that Application
        # Signals can count every request (see OTLP.md).
        intake.unsampled = intake.spans
        return intake
    converted = convert_request(request, now)
    intake.rejected, intake.messages = converted.rejected, converted.messages
    for document in converted.documents:
        try:
            intake.rows.append(row_for(validate(document), now))
        except InvalidDocument as error:
            intake.rejected += 1
            if len(intake.messages) < MAX_MESSAGES:
                intake.messages.append(f"otlp: span {document.get('id')} made {error}")
    return intake


def take_datagram_body(body: bytes, now: float) -> Intake:
    """The part of an ADOT datagram after its header line; raises OtlpError if unreadable."""
    request, sampled = decode_datagram_body(body)
    if not count_spans(request):  # nothing to count it by: say so rather than lose it
        raise OtlpError("datagram holds no spans")
    return take_request(request, now, sampled)


# -- OTLP/HTTP -----------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str


def _answer_type(content_type: str) -> str:
    return JSON if media_type(content_type) == JSON else PROTOBUF


def error_answer(error: OtlpError, content_type: str) -> Answer:
    """OTLP/HTTP's failure response: a google.rpc.Status in the request's encoding."""
    from google.rpc import code_pb2, status_pb2

    code = {413: code_pb2.RESOURCE_EXHAUSTED, 500: code_pb2.INTERNAL}.get(
        error.status, code_pb2.INVALID_ARGUMENT
    )
    status = status_pb2.Status(code=code, message=str(error))
    kind = _answer_type(content_type)
    if kind == JSON:
        body = json.dumps({"code": code, "message": str(error)}).encode()
    else:
        body = status.SerializeToString()
    return Answer(error.status, body, kind)


def success_answer(rejected: int, messages: list[str], content_type: str) -> Answer:
    """ExportTraceServiceResponse, with partial_success naming the spans not stored."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceResponse,
    )

    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = rejected
        shown = "; ".join(messages[:10])
        more = f" (and {rejected - 10} more)" if rejected > 10 else ""
        response.partial_success.error_message = f"{rejected} spans rejected: {shown}{more}"
    kind = _answer_type(content_type)
    if kind == JSON:
        from google.protobuf import json_format

        body = json.dumps(json_format.MessageToDict(response)).encode()
    else:
        body = response.SerializeToString()
    return Answer(200, body, kind)


class HttpIntake:
    """POST /v1/traces: decode, convert and store; `record(stored, rejected)` counts them
    in the daemon's statistics."""

    def __init__(self, store: TraceStore, record: Callable[[int, int], None] | None = None) -> None:
        self.store = store
        self.record = record

    def handle(self, body: bytes, content_type: str, encoding: str, now: float) -> Answer:
        try:
            request = decode_http_body(body, content_type, encoding)
            spans = count_spans(request)
            if spans > MAX_SPANS_PER_REQUEST:
                raise OtlpError(f"{spans} spans in one request; X-Ray takes at most 10,000")
        except OtlpError as error:
            log.warning("local X-Ray rejected an OTLP request: %s", error)
            if self.record is not None:
                self.record(0, 1)
            return error_answer(error, content_type)
        intake = take_request(request, now)
        if intake.rows:
            self.store.write_rows(intake.rows)
        for message in intake.messages[:10]:
            log.warning("local X-Ray rejected a span: %s", message)
        if self.record is not None:
            self.record(len(intake.rows), intake.rejected)
        return success_answer(intake.rejected, intake.messages, content_type)


def too_large(length: int, content_type: str) -> Answer:
    """For a request whose body the server will not read."""
    if length < 0:
        error = OtlpError("the request needs a Content-Length of at most 5 MB", 411)
    else:
        error = OtlpError(f"request of {length} bytes is over X-Ray's limit of 5 MB", 413)
    return error_answer(error, content_type)


def internal_error(content_type: str) -> Answer:
    return error_answer(OtlpError("internal error in local X-Ray", 500), content_type)
