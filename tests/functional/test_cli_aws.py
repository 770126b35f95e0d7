"""The command line against AWS, played by botocore's Stubber: real clients, real service
model checks on every request and response, no network."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from lambda_tracing_local.cli import aws, main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures/xray"
TRACE_ID = "1-59602603-23fc5b688855d396af79b496"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    data.pop("_note", None)
    return without_nulls(data)


def without_nulls(value: Any) -> Any:
    """The Grafana fixture writes absent fields as null; the API leaves them out."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """Every X-Ray client the CLI makes is this stubbed one; the test queues its answers."""
    client = boto3.client(
        "xray", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    stubber = Stubber(client)
    made: list[argparse.Namespace] = []

    def make(args: argparse.Namespace) -> Any:
        made.append(args)
        return client

    monkeypatch.setattr(aws, "xray_client", make)
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()
    assert made, "the command never asked for a client"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(code: int, out: str, err: str) -> str:
    lines = err.strip().splitlines()
    assert code == 2 and out == ""
    assert lines[-1].startswith("lambda-tracing: error: ")
    assert all(line.startswith("lambda-tracing: ") for line in lines)  # progress, then error
    return lines[-1]


def test_map_reads_the_service_graph_of_the_window(
    stub: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    stub.add_response(
        "get_service_graph",
        fixture("get-service-graph.awsdocs.json"),
        {"StartTime": ANY, "EndTime": ANY, "GroupName": "web"},
    )
    code, out, err = run(["map", "--since", "30m", "--group", "web", "--format", "json"], capsys)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["group"] == "web"
    assert summary["window"]["seconds"] == 30 * 60  # the window asked for, not the data's
    assert {node["name"] for node in summary["nodes"]} == {
        "xray-sample.elasticbeanstalk.com",
        "SNS",
        "awseb-e-dixzws4s9p-stack-StartupSignupsTable-4IMSMHAYX2BA",
    }
    assert "reading the service graph of group web from AWS X-Ray" in err


def test_map_reads_long_windows_in_chunks(
    stub: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    page = fixture("get-service-graph.lambda-sqs.grafana.json")
    for _ in range(3):
        stub.add_response(
            "get_service_graph", page, {"StartTime": ANY, "EndTime": ANY, "GroupName": "Default"}
        )
    code, out, err = run(["map", "--since", "3h", "--chunk", "1h", "--format", "svg"], capsys)
    assert code == 0, err
    assert out.startswith("<svg") and out.count('class="node"') == 5
    assert [line for line in err.splitlines() if "chunk" in line][-1].startswith(
        "lambda-tracing: chunk 3/3: "
    )


def test_map_throttled_is_one_line(stub: Stubber, capsys: pytest.CaptureFixture[str]) -> None:
    stub.add_client_error("get_service_graph", "ThrottledException", "Rate exceeded", 429)
    line = one_line_error(*run(["map"], capsys))
    assert "throttled by X-Ray (ThrottledException)" in line


def test_traces_lists_summaries_in_80_columns(
    stub: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    stub.add_response(
        "get_trace_summaries",
        fixture("get-trace-summaries.awsdocs.json"),
        {
            "StartTime": ANY,
            "EndTime": ANY,
            "Sampling": False,
            "FilterExpression": 'service("Scorekeep") AND responsetime > 1',
        },
    )
    code, out, _ = run(
        ["traces", "--since", "1h", "--filter", 'service("Scorekeep") AND responsetime > 1'], capsys
    )
    assert code == 0
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[0].split() == ["TRACE", "ID", "START", "DURATION", "STATUS", "REQUEST"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {"1-59602606-a43a1ac52fc7ee0eea12a82c", TRACE_ID}
    assert " 3.2 s " in rows[TRACE_ID] and " ok " in rows[TRACE_ID]
    assert rows[TRACE_ID].endswith("POST 200 /api/user")


def test_traces_denied_is_one_line(stub: Stubber, capsys: pytest.CaptureFixture[str]) -> None:
    stub.add_client_error(
        "get_trace_summaries",
        "AccessDeniedException",
        "not authorized to perform: xray:GetTraceSummaries",
        403,
    )
    line = one_line_error(*run(["traces"], capsys))
    assert "GetTraceSummaries failed: AccessDeniedException: not authorized" in line


def test_flame_fetches_the_trace(
    stub: Stubber, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stub.add_response(
        "batch_get_traces", fixture("batch-get-traces.awsdocs.json"), {"TraceIds": [TRACE_ID]}
    )
    target = tmp_path / "flame.html"
    code, out, err = run(["flame", TRACE_ID, "--output", str(target)], capsys)
    assert code == 0 and out == ""
    page = target.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("data-depth=") == 11
    assert f"fetching trace {TRACE_ID}" in err


def test_flame_of_an_unknown_trace_is_one_line(
    stub: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = "1-5ee20a4a-bab71b6bbc0660dba2adab3e"
    stub.add_response(
        "batch_get_traces",
        {"Traces": [], "UnprocessedTraceIds": [missing]},
        {"TraceIds": [missing]},
    )
    line = one_line_error(*run(["flame", missing], capsys))
    assert f"no such trace: {missing}" in line


def test_no_credentials_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real client creation, with nothing to find credentials in (and no instance
    metadata lookups: the test stays on this machine)."""
    for name in (
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for argv in (["traces"], ["map"], ["flame", TRACE_ID]):
        line = one_line_error(*run(argv, capsys))
        assert "no AWS credentials found" in line, argv
