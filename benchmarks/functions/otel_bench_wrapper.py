"""The `_HANDLER` of the OpenTelemetry variant, shaped like the OTel Lambda layer's otel_wrapper.

Sets up the SDK (X-Ray ID generator, X-Ray Lambda propagator reading `_X_AMZN_TRACE_ID`, a batch
span processor that the Lambda instrumentation force-flushes after every invocation, the OTLP-UDP
exporter to the daemon address), instruments botocore and requests, then instruments and loads
the user's handler named by ORIG_HANDLER.
"""

from __future__ import annotations

import os
from importlib import import_module

from opentelemetry import trace
from opentelemetry.instrumentation.aws_lambda import AwsLambdaInstrumentor
from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.propagate import set_global_textmap
from opentelemetry.propagators.aws import AwsXRayLambdaPropagator
from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from otlp_udp_exporter import OtlpUdpSpanExporter

provider = TracerProvider(
    id_generator=AwsXRayIdGenerator(),
    resource=Resource.create(
        {"service.name": os.environ["AWS_LAMBDA_FUNCTION_NAME"], "cloud.provider": "aws"}
    ),
)
provider.add_span_processor(BatchSpanProcessor(OtlpUdpSpanExporter()))
trace.set_tracer_provider(provider)
set_global_textmap(AwsXRayLambdaPropagator())

# Like the OTel layer's auto-instrumentation, instrument the libraries the runtime has installed,
# whether or not this function imports them.
BotocoreInstrumentor().instrument()
RequestsInstrumentor().instrument()

AwsLambdaInstrumentor().instrument()

_module_name, _function_name = os.environ["ORIG_HANDLER"].rsplit(".", 1)
lambda_handler = getattr(import_module(_module_name), _function_name)
