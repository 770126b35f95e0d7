"""The `_HANDLER` of the ADOT variant, doing what the ADOT Lambda layer's `otel_wrapper` does:
instrument Lambda handlers (AwsLambdaInstrumentor, with the trace context taken from
`_X_AMZN_TRACE_ID` over any header in the event), then import the function named by
ORIG_HANDLER. OpenTelemetry itself was set up by `opentelemetry-instrument` (adot-instrument).
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import Any

from opentelemetry.context import Context
from opentelemetry.instrumentation.aws_lambda import AwsLambdaInstrumentor
from opentelemetry.propagate import get_global_textmap
from opentelemetry.trace import get_current_span

_XRAY_HEADER = "X-Amzn-Trace-Id"


def _context_from_lambda(event: Any) -> Context:
    headers = event.get("headers") if isinstance(event, dict) else None
    carrier = dict(headers) if isinstance(headers, dict) else {}
    lambda_header = os.environ.get("_X_AMZN_TRACE_ID")
    if lambda_header:
        carrier = {k: v for k, v in carrier.items() if k.lower() != _XRAY_HEADER.lower()}
        carrier[_XRAY_HEADER] = lambda_header
    context = get_global_textmap().extract(carrier)
    return context if get_current_span(context).get_span_context().is_valid else Context()


AwsLambdaInstrumentor().instrument(event_context_extractor=_context_from_lambda)

_module_name, _function_name = os.environ["ORIG_HANDLER"].rsplit(".", 1)
lambda_handler = getattr(import_module(_module_name.replace("/", ".")), _function_name)
