"""A Lambda-like OpenTelemetry process, run by the OTLP tests as a separate process (by
.tools/adot/bin/python for ADOT's UDP exporter, by .venv's python for OTLP/HTTP).

    python otlp_sender.py udp|http ENDPOINT FUNCTION_NAME FAILING_URL [TRACEPARENT]

One invocation: a SERVER span with the resource attributes OTel's Lambda instrumentation
and ADOT set, an HTTP GET to FAILING_URL through OTel's requests instrumentation, a DynamoDB
PutItem span with the attributes OTel's botocore instrumentation writes (ADOT's environment
has no boto3), and an exception recorded on the handler span. Prints the trace id (hex).
"""

from __future__ import annotations

import sys

import requests
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode


def exporter(kind: str, endpoint: str) -> SpanExporter:
    if kind == "udp":  # as the ADOT Lambda layer exports: to AWS_XRAY_DAEMON_ADDRESS
        from amazon.opentelemetry.distro.otlp_udp_exporter import OTLPUdpSpanExporter

        return OTLPUdpSpanExporter(endpoint=endpoint)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint)


def main(kind: str, endpoint: str, function: str, failing_url: str, parent: str = "") -> None:
    resource = Resource.create(
        {
            "service.name": function,
            "cloud.provider": "aws",
            "cloud.platform": "aws_lambda",
            "cloud.region": "us-east-1",
            "faas.name": function,
            "faas.version": "$LATEST",
        }
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter(kind, endpoint)))
    RequestsInstrumentor().instrument(tracer_provider=provider)
    tracer = provider.get_tracer("lambda-like")
    context = propagate.extract({"traceparent": parent}) if parent else None
    with tracer.start_as_current_span(
        function,
        context=context,
        kind=SpanKind.SERVER,
        attributes={"faas.trigger": "http", "faas.invocation_id": "0e5c-invocation"},
        record_exception=False,
        set_status_on_exception=False,
    ) as handler:
        requests.get(failing_url, timeout=10)
        with tracer.start_as_current_span(
            "DynamoDB.PutItem",
            kind=SpanKind.CLIENT,
            attributes={
                "rpc.system": "aws-api",
                "rpc.service": "DynamoDB",
                "rpc.method": "PutItem",
                "aws.region": "us-east-1",
                "aws.dynamodb.table_names": ["orders-table"],
                "aws.request_id": "Q8CQ3PVN2AKHD0N0MQKJ7GG7TVVV4KQNSO5AEMVJF66Q9ASUAAJG",
                "http.status_code": 200,
            },
        ):
            pass
        try:
            raise KeyError("order 42 has no customer")
        except KeyError as error:
            handler.record_exception(error)
            handler.set_status(Status(StatusCode.ERROR, "KeyError"))
        trace_id = handler.get_span_context().trace_id
    provider.shutdown()  # exports what the batch holds, as the Lambda layer flushes
    print(trace.format_trace_id(trace_id), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
