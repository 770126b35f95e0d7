"""The user's function every variant runs: one module, the tracer picked by BENCH_TRACER.

BENCH_TRACER: bare | powertools | xray_sdk | otel | ours
  bare       - no tracing at all.
  powertools - Powertools Tracer, `capture_lambda_handler`, auto-patching as it does by default.
  xray_sdk   - aws-xray-sdk by hand: patch(botocore, requests), one `## handler` subsegment.
  otel       - plain handler here; otel_bench_wrapper (the `_HANDLER`) instruments it.
  ours       - plain handler here; the layer's wrapper script (AWS_LAMBDA_EXEC_WRAPPER) wraps it.
BENCH_DOWNSTREAM: "1" (default) imports boto3 and requests and builds a DynamoDB client and an
  HTTP session at init, as most functions do; "0" imports neither (the no-boto3 cold start).

The event's "workload" picks what one invocation does: plain, subsegment, botocore (moto),
botocore_stub (botocore's Stubber), http.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

TRACER = os.environ.get("BENCH_TRACER", "bare")
WITH_DOWNSTREAM = os.environ.get("BENCH_DOWNSTREAM", "1") == "1"

SpanFactory = Callable[[str], AbstractContextManager[Any]]


def _plain(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_workload(event.get("workload", "plain"))


if TRACER == "powertools":
    from aws_lambda_powertools import Tracer

    tracer = Tracer()

    def _powertools_span(name: str) -> AbstractContextManager[Any]:
        return tracer.provider.in_subsegment(f"## {name}")

    custom_span: SpanFactory = _powertools_span
    handler = tracer.capture_lambda_handler(_plain)

elif TRACER == "xray_sdk":
    from aws_xray_sdk.core import patch, xray_recorder

    patch(("botocore", "requests"))
    custom_span = xray_recorder.in_subsegment

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        with xray_recorder.in_subsegment("## handler"):
            return _plain(event, context)

elif TRACER == "otel":
    from opentelemetry import trace

    def _otel_span(name: str) -> AbstractContextManager[Any]:
        return trace.get_tracer("bench").start_as_current_span(name)

    custom_span = _otel_span
    handler = _plain

elif TRACER == "ours":

    def _ours_span(name: str) -> AbstractContextManager[Any]:
        from ours_api import custom_subsegment

        return custom_subsegment(name)

    custom_span = _ours_span
    handler = _plain

else:
    custom_span = nullcontext  # type: ignore[assignment]
    handler = _plain


if WITH_DOWNSTREAM:
    import boto3
    import requests
    from botocore.stub import Stubber

    dynamodb = boto3.client("dynamodb")
    # The same call answered by botocore's Stubber: no I/O and no moto, so the tracers' per-call
    # cost is not lost in moto's 2-3 ms (whose speed varies more than that from run to run).
    stubbed_dynamodb = boto3.client("dynamodb")
    stubber = Stubber(stubbed_dynamodb)
    stubber.activate()
    http = requests.Session()
    HTTP_URL = os.environ.get("BENCH_HTTP_URL", "http://127.0.0.1:9/")
    TABLE = "bench"


def run_workload(workload: str) -> dict[str, Any]:
    if workload == "subsegment":
        with custom_span("custom-work") as span:
            if span is not None and hasattr(span, "put_annotation"):
                span.put_annotation("item", 1)
    elif workload == "botocore":
        dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "1"}})
    elif workload == "botocore_stub":
        stubber.add_response("get_item", {"Item": {"pk": {"S": "1"}}})
        stubbed_dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "1"}})
    elif workload == "http":
        http.get(HTTP_URL, timeout=5).raise_for_status()
    return {"statusCode": 200, "body": "ok"}
