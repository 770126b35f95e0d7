"""An OpenTelemetry span exporter that sends to the X-Ray daemon address over UDP.

Spans are encoded as OTLP protobuf (opentelemetry-exporter-otlp-proto-common), base64'd and
framed as the daemon's OTLP-over-UDP datagrams (the JSON header line, then `T1S` + payload), the
way the AWS distribution for OpenTelemetry sends spans from Lambda. Written for this benchmark.
"""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

_HEADER = b'{"format":"json","version":1}\n'
_SAMPLED_PREFIX = b"T1S"


class OtlpUdpSpanExporter(SpanExporter):
    def __init__(self, address: str | None = None) -> None:
        host, port = (address or os.environ["AWS_XRAY_DAEMON_ADDRESS"]).rsplit(":", 1)
        self._destination = (host, int(port))
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        payload = base64.b64encode(encode_spans(spans).SerializeToString())
        try:
            self._socket.sendto(_HEADER + _SAMPLED_PREFIX + payload, self._destination)
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._socket.close()
