"""OpenTelemetry-instrumented services for the mixed-trace test, each run as its own process.

    python otel_services.py storefront OTLP_UDP_ADDRESS URL   (ADOT's UDP exporter)
        one SERVER span calling URL through OTel's requests instrumentation; prints the
        trace id (hex)
    python otel_services.py inventory OTLP_HTTP_ENDPOINT      (the OTLP/HTTP exporter)
        an HTTP server continuing the caller's trace (X-Amzn-Trace-Id or traceparent):
        prints its port, answers GETs until stdin closes

Propagation as OTEL_PROPAGATORS=tracecontext,xray sets it: W3C and X-Ray headers both.
"""

from __future__ import annotations

import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

os.environ["OTEL_PROPAGATORS"] = "tracecontext,xray"  # read when propagate is imported

import requests  # noqa: E402
from opentelemetry import propagate, trace  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter  # noqa: E402
from opentelemetry.trace import SpanKind  # noqa: E402


def provider(name: str, exporter: SpanExporter) -> TracerProvider:
    tracer_provider = TracerProvider(resource=Resource.create({"service.name": name}))
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    return tracer_provider


def storefront(udp_address: str, url: str) -> None:
    from amazon.opentelemetry.distro.otlp_udp_exporter import OTLPUdpSpanExporter
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    tracer_provider = provider("storefront", OTLPUdpSpanExporter(endpoint=udp_address))
    RequestsInstrumentor().instrument(tracer_provider=tracer_provider)
    tracer = tracer_provider.get_tracer("storefront")
    with tracer.start_as_current_span("GET /buy", kind=SpanKind.SERVER) as span:
        answer = requests.get(url, timeout=30)
        span.set_attribute("http.response.status_code", answer.status_code)
        trace_id = span.get_span_context().trace_id
    tracer_provider.shutdown()
    print(trace.format_trace_id(trace_id), answer.status_code, flush=True)


def inventory(endpoint: str) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    tracer = provider("inventory", OTLPSpanExporter(endpoint=endpoint)).get_tracer("inventory")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            context = propagate.extract(dict(self.headers.items()))
            with tracer.start_as_current_span(
                f"GET {self.path}",
                context=context,
                kind=SpanKind.SERVER,
                attributes={
                    "http.request.method": "GET",
                    "url.path": self.path,
                    "http.response.status_code": 200,
                },
            ):
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # until the test closes it
    server.shutdown()


if __name__ == "__main__":
    if sys.argv[1] == "storefront":
        storefront(sys.argv[2], sys.argv[3])
    else:
        inventory(sys.argv[2])
