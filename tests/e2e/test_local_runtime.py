"""The local Lambda runtime with real awslambdaric processes and the local X-Ray."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import jsonschema
import pytest
from e2e_support import FIXTURE_TEMPLATE, FIXTURE_VALUES, ROOT, by_origin, trace_documents
from lambda_tracing_local.runtime.local_lambda import LocalLambda
from lambda_tracing_local.xray import LocalXRay

pytestmark = pytest.mark.e2e

SCHEMA = json.loads((ROOT / "tests/fixtures/xray/segment-document-schema-v1.0.0.json").read_text())
CALLER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def _subsegments(document: dict) -> dict[str, dict]:
    return {sub["name"]: sub for sub in document.get("subsegments", [])}


def test_invocation_context_environment_and_warm_reuse(
    fixture_lambda: LocalLambda, xray: LocalXRay
) -> None:
    first = fixture_lambda.invoke("EchoFunction", {"n": 1})
    second = fixture_lambda.invoke("EchoFunction", {"n": 2})

    seen = first.payload
    assert first.function_error is None
    assert seen["event"] == {"n": 1}
    assert seen["request_id"] == first.outcome.request_id
    assert seen["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:EchoFunction"
    assert 0 < seen["remaining_ms"] <= 5000
    assert seen["table"] == "fixture-table"
    assert seen["greeting"] == "hello-test-us-east-1"
    assert seen["memory"] == "256"  # Globals applied
    assert seen["endpoint"] == "http://127.0.0.1:9"
    assert seen["trace"] == first.trace.runtime_header()
    # warm reuse: same process, no second init
    assert first.outcome.cold_start and not second.outcome.cold_start
    assert second.payload["pid"] == seen["pid"]
    assert fixture_lambda.cold_starts["EchoFunction"] == 1

    documents = trace_documents(xray, first.trace.trace_id, 4)
    for document in documents:
        jsonschema.validate(document, SCHEMA)
    service = by_origin(documents, "AWS::Lambda")
    function = by_origin(documents, "AWS::Lambda::Function")
    assert "parent_id" not in service  # a new trace: Lambda's segment is the root
    assert function["parent_id"] == service["id"] == first.trace.service_segment_id
    assert function["id"] == first.trace.function_segment_id
    phases = _subsegments(function)
    assert set(phases) >= {"Initialization", "Invocation"}
    assert phases["Initialization"]["end_time"] <= phases["Invocation"]["start_time"]
    assert "fault" not in function

    warm = trace_documents(xray, second.trace.trace_id, 4)
    assert "Initialization" not in _subsegments(by_origin(warm, "AWS::Lambda::Function"))


def test_client_context_reaches_the_handler(fixture_lambda: LocalLambda) -> None:
    context = json.dumps({"custom": {"tenant": "t-1"}, "client": {}, "env": {}})
    result = fixture_lambda.invoke("EchoFunction", {}, client_context=context)
    assert result.payload["client_custom"] == {"tenant": "t-1"}


def test_caller_trace_is_continued(fixture_lambda: LocalLambda, xray: LocalXRay) -> None:
    result = fixture_lambda.invoke("EchoFunction", {}, upstream_trace=CALLER)
    assert result.trace.trace_id == "1-5759e988-bd862e3fe1be46a994272793"
    documents = trace_documents(xray, result.trace.trace_id, 2)
    assert by_origin(documents, "AWS::Lambda")["parent_id"] == "53995c3f42cd8ad8"
    assert result.payload["trace"].startswith("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=")


def test_unsampled_caller_records_nothing(fixture_lambda: LocalLambda, xray: LocalXRay) -> None:
    header = "Root=1-5759e988-bd862e3fe1be46a994272794;Parent=53995c3f42cd8ad8;Sampled=0"
    result = fixture_lambda.invoke("EchoFunction", {}, upstream_trace=header)
    assert result.payload["trace"].endswith("Sampled=0")
    time.sleep(0.3)
    assert xray.stats["received"] == 0


def test_raising_function_shows_fault_with_awslambdaric_cause(
    fixture_lambda: LocalLambda, xray: LocalXRay
) -> None:
    result = fixture_lambda.invoke("BoomFunction", {"card": 7})
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "ValueError"
    assert result.payload["errorMessage"] == "card declined: 7"

    function = by_origin(trace_documents(xray, result.trace.trace_id, 2), "AWS::Lambda::Function")
    assert function["fault"] is True
    (exception,) = function["cause"]["exceptions"]
    assert exception["type"] == "ValueError"
    assert exception["message"] == "card declined: 7"
    assert len(exception["id"]) == 16
    frame = exception["stack"][-1]
    assert frame["label"] == "boom" and frame["path"].endswith("fns/app.py")
    assert function["cause"]["working_directory"]
    assert _subsegments(function)["Invocation"]["fault"] is True


def test_timeout_kills_the_process_and_reports_like_lambda(
    fixture_lambda: LocalLambda, xray: LocalXRay, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    started = time.monotonic()
    result = fixture_lambda.invoke("SlowFunction", {"pid_file": str(pid_file)})
    elapsed = time.monotonic() - started

    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Sandbox.Timedout"
    assert result.payload["errorMessage"] == (
        f"RequestId: {result.outcome.request_id} Error: Task timed out after 1.00 seconds"
    )
    assert elapsed < 8  # Timeout is 1 s, the handler sleeps 30 s
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)
    function = by_origin(trace_documents(xray, result.trace.trace_id, 2), "AWS::Lambda::Function")
    assert function["fault"] is True
    assert "Task timed out" in function["cause"]["exceptions"][0]["message"]
    # the killed environment is gone: the next invocation is a fresh cold start
    again = fixture_lambda.invoke("SlowFunction", {"pid_file": str(pid_file)})
    assert again.outcome.cold_start
    assert fixture_lambda.cold_starts["SlowFunction"] == 2


def test_init_error_is_reported_like_lambda(fixture_lambda: LocalLambda, xray: LocalXRay) -> None:
    result = fixture_lambda.invoke("BrokenFunction", {})
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "RuntimeError"
    assert result.payload["errorMessage"] == "missing configuration at import"
    assert any("broken.py" in line for line in result.payload["stackTrace"])

    function = by_origin(trace_documents(xray, result.trace.trace_id, 2), "AWS::Lambda::Function")
    assert function["fault"] is True
    assert function["cause"]["exceptions"][0]["type"] == "RuntimeError"
    assert _subsegments(function)["Initialization"]["fault"] is True
    assert "Invocation" not in _subsegments(function) or not _subsegments(function)[
        "Invocation"
    ].get("fault")
    assert fixture_lambda.invoke("BrokenFunction", {}).outcome.cold_start  # init is retried


def test_missing_exec_wrapper_is_an_init_failure(xray: LocalXRay) -> None:
    overrides = {"EchoFunction": {"AWS_LAMBDA_EXEC_WRAPPER": "/nonexistent/wrapper"}}
    with LocalLambda(
        FIXTURE_TEMPLATE,
        FIXTURE_VALUES,
        "http://127.0.0.1:9",
        {},
        xray_daemon=xray.udp_address,
        overrides=overrides,
    ) as local_lambda:
        result = local_lambda.invoke("EchoFunction", {})
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Runtime.InvalidEntrypoint"
    assert "/nonexistent/wrapper" in result.payload["errorMessage"]


def test_exec_wrapper_runs_around_the_runtime(fixture_lambda: LocalLambda) -> None:
    result = fixture_lambda.invoke("WrappedFunction", {"n": 3})
    assert result.function_error is None
    assert result.payload["wrapped_by"] == "fixture-wrapper"
    assert result.payload["inner"]["event"] == {"n": 3}
