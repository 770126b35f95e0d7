"""The OTLP wire formats (local/lambda_tracing_local/xray/otlp/decode.py) and the daemon's
batches of mixed datagrams (ingest.py): ADOT's framing as its exporter writes it, OTLP/HTTP
bodies in protobuf and JSON, gzip, and a clear error for everything else."""

from __future__ import annotations

import base64
import gzip
import json
import time
from pathlib import Path

import pytest
from google.protobuf import json_format
from lambda_tracing_local.xray.ingest import ingest_batch
from lambda_tracing_local.xray.otlp.decode import (
    MAX_REQUEST_BYTES,
    OtlpError,
    decode_datagram_body,
    decode_http_body,
)
from lambda_tracing_local.xray.store import TraceStore
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

ADOT_HEADER = b'{"format":"json","version":1}\n'  # otlp_udp_exporter.py's PROTOCOL_HEADER
TRACE_ID = bytes.fromhex("5759e988bd862e3fe1be46a994272793")


def request(
    spans: int = 1, start: float | None = None, padding: int = 0, first: int = 1
) -> ExportTraceServiceRequest:
    start = time.time() - 1 if start is None else start
    message = ExportTraceServiceRequest()
    resource_spans = message.resource_spans.add()
    pair = resource_spans.resource.attributes.add()
    pair.key, pair.value.string_value = "service.name", "checkout"
    scope = resource_spans.scope_spans.add()
    for index in range(spans):
        span = scope.spans.add(
            trace_id=TRACE_ID,
            span_id=(first + index).to_bytes(8, "big"),
            name="handler",
            kind=Span.SPAN_KIND_SERVER,
            start_time_unix_nano=int(start * 1e9),
            end_time_unix_nano=int((start + 0.5) * 1e9),
        )
        span.status.code = span.status.STATUS_CODE_OK
        if padding:
            pair = span.attributes.add()
            pair.key, pair.value.string_value = "padding", "p" * padding
    return message


def datagram(message: ExportTraceServiceRequest, prefix: bytes = b"T1S") -> bytes:
    return ADOT_HEADER + prefix + base64.b64encode(message.SerializeToString())


def test_adot_framing_decodes_sampled_and_unsampled() -> None:
    message = request(2)
    decoded, sampled = decode_datagram_body(datagram(message)[len(ADOT_HEADER) :])
    assert decoded == message and sampled
    decoded, sampled = decode_datagram_body(datagram(message, b"T1U")[len(ADOT_HEADER) :])
    assert decoded == message and not sampled


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"T1Snot base64!", "not base64"),
        (b"T1S" + base64.b64encode(b"\xff\xff\xff\xff"), "not an OTLP ExportTraceServiceRequest"),
        (b"M1" + base64.b64encode(b""), "metrics"),
    ],
)
def test_unreadable_datagrams_say_why(body: bytes, match: str) -> None:
    with pytest.raises(OtlpError, match=match) as caught:
        decode_datagram_body(body)
    assert str(caught.value).startswith("otlp: ")


def hex_json(message: ExportTraceServiceRequest) -> bytes:
    """OTLP/JSON as the specification writes it: protobuf's JSON mapping, ids in hex."""
    document = json_format.MessageToDict(message)
    for resource_spans in document["resourceSpans"]:
        for scope in resource_spans["scopeSpans"]:
            for span in scope["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(document).encode()


def test_http_bodies_in_protobuf_and_json_gzipped_or_not() -> None:
    message = request(3)
    protobuf = message.SerializeToString()
    assert decode_http_body(protobuf, "application/x-protobuf") == message
    assert decode_http_body(gzip.compress(protobuf), "application/x-protobuf", "gzip") == message
    body = hex_json(message)
    assert b"5759e988bd862e3fe1be46a994272793" in body
    assert decode_http_body(body, "application/json; charset=utf-8") == message
    assert decode_http_body(gzip.compress(body), "application/json", "gzip") == message


def test_the_specifications_json_example_decodes() -> None:
    example = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "my.library"},
                        "spans": [
                            {
                                "traceId": "5B8EFFF798038103D269B633813FC60C",
                                "spanId": "EEE19B7EC3C1B174",
                                "parentSpanId": "EEE19B7EC3C1B173",
                                "name": "I'm a server span",
                                "startTimeUnixNano": "1544712660000000000",
                                "endTimeUnixNano": "1544712661000000000",
                                "kind": 2,
                                "attributes": [
                                    {"key": "my.span.attr", "value": {"stringValue": "some value"}}
                                ],
                            }
                        ],
                    }
                ],
            }
        ]
    }
    message = decode_http_body(json.dumps(example).encode(), "application/json")
    span = message.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id.hex() == "5b8efff798038103d269b633813fc60c"
    assert span.kind == Span.SPAN_KIND_SERVER and span.parent_span_id.hex() == "eee19b7ec3c1b173"


@pytest.mark.parametrize(
    ("body", "content_type", "encoding", "status", "match"),
    [
        (b"{}", "text/plain", "", 415, "Content-Type 'text/plain' is not OTLP"),
        (b"{}", "", "", 415, "Content-Type '\\(none\\)'"),
        (b"{}", "application/json", "br", 415, "Content-Encoding 'br'"),
        (b"{not json", "application/json", "", 400, "not JSON"),
        (b"[1, 2]", "application/json", "", 400, "not an OTLP/JSON object"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}',
            "application/json",
            "",
            400,
            "not hex",
        ),
        (b'{"resourceSpans": 7}', "application/json", "", 400, "expected a list"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}',
            "application/json",
            "",
            400,
            "not an OTLP/JSON",
        ),
        (b"\x0a\xff\xff\xff", "application/x-protobuf", "", 400, "protobuf"),
        (b"not gzip", "application/x-protobuf", "gzip", 400, "not gzip"),
        (gzip.compress(b"\x0a\x00")[:-4], "application/x-protobuf", "gzip", 400, "truncated"),
    ],
)
def test_bad_http_bodies_get_a_clear_error(
    body: bytes, content_type: str, encoding: str, status: int, match: str
) -> None:
    with pytest.raises(OtlpError, match=match) as caught:
        decode_http_body(body, content_type, encoding)
    assert caught.value.status == status


def test_a_gzip_bomb_stops_at_the_5_mb_limit() -> None:
    bomb = gzip.compress(b"\0" * (MAX_REQUEST_BYTES + 1024))
    assert len(bomb) < 10_000
    with pytest.raises(OtlpError, match="5242880 byte limit") as caught:
        decode_http_body(bomb, "application/x-protobuf", "gzip")
    assert caught.value.status == 413


def test_a_batch_mixes_segment_documents_and_otlp_datagrams(tmp_path: Path) -> None:
    store = TraceStore(str(tmp_path / "x.sqlite3"))
    segment = {
        "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
        "id": "70de5b6f19ff9a0a",
        "name": "sdk",
        "start_time": time.time() - 1,
        "end_time": time.time(),
    }
    old = request(1, start=time.time() - 20 * 86400)
    datagrams = [
        b'{"format": "json", "version": 1}\n' + json.dumps(segment).encode(),
        datagram(request(2)),
        datagram(request(4), b"T1U"),
        datagram(old),
        ADOT_HEADER + b"T1S%%%",
        datagram(request(1, padding=48_000, first=9)),  # past the 64 kB of a segment document
        ADOT_HEADER + b"T1S" + base64.b64encode(b"x" * 100),  # a protobuf of no spans
        ADOT_HEADER + b"{not json",
        b'{"format":"json","version":2}\nT1S' + base64.b64encode(request(1).SerializeToString()),
    ]
    result = ingest_batch(store, datagrams, time.time())
    # Spans count as documents do: each received, then stored, rejected or (T1U) unsampled.
    assert len(datagrams[5]) > 64_000
    assert (result.received, result.stored, result.unsampled) == (1 + 2 + 4 + 1 + 5, 4, 4)
    # OTLP needs the header too; segment documents are counted by X-Ray's ErrorCode
    assert result.rejected == {"otlp": 3, "InvalidJson": 1, "InvalidHeader": 1}
    assert result.received == result.stored + sum(result.rejected.values()) + result.unsampled
    assert any("14 days" in message for message in result.messages)
    assert all(m.startswith(("otlp: ", "json: ")) for m in result.messages)
    stored = store.documents_of(["1-5759e988-bd862e3fe1be46a994272793"])
    assert sorted(d["name"] for d in stored["1-5759e988-bd862e3fe1be46a994272793"]) == [
        "checkout",
        "checkout",
        "checkout",
        "sdk",
    ]
    store.close()


def test_a_bug_on_the_otlp_path_costs_its_datagram_not_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The OTLP path runs when a datagram fails as a segment document: a bug there must be
    counted as the JSON path's are, never escape with the rest of the batch unstored."""
    from lambda_tracing_local.xray.otlp import intake

    def broken(request: object, now: float, sampled: bool = True) -> object:
        raise RuntimeError("conversion bug")

    monkeypatch.setattr(intake, "take_request", broken)
    store = TraceStore(str(tmp_path / "x.sqlite3"))
    segment = {
        "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
        "id": "70de5b6f19ff9a0a",
        "name": "sdk",
        "start_time": time.time() - 1,
        "end_time": time.time(),
    }
    sdk_datagram = b'{"format": "json", "version": 1}\n' + json.dumps(segment).encode()
    result = ingest_batch(store, [datagram(request(2)), sdk_datagram], time.time())
    assert (result.received, result.stored) == (2, 1)
    assert result.rejected == {"internal": 1}
    assert any("conversion bug" in message for message in result.messages)
    assert store.count() == 1
