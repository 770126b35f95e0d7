"""The official X-Ray SDK for Node.js (aws-xray-sdk-core from npm, default settings) against
the local X-Ray started as users start it: every sampled request's trace is kept whole, its
async error shown, and the graph counts the 4xx/429/5xx calls as documented (issue 14)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from downstream_support import moto_server
from lambda_tracing_local.cli import main as cli
from local_xray_clients import documents, fresh, local_xray_command, wait_for, walk

NODE_CLIENT = Path(__file__).resolve().parents[1] / "clients" / "node"
pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if not (NODE_CLIENT / "node_modules" / "aws-xray-sdk-core").is_dir():
        pytest.fail(f"npm packages missing: run `make node-clients` (npm ci in {NODE_CLIENT})")
    directory = tmp_path_factory.mktemp("node-client")
    with moto_server() as moto, local_xray_command(directory) as xray:
        fresh(moto)
        environment = {
            **os.environ,
            "AWS_XRAY_DAEMON_ADDRESS": xray.udp,
            "MOTO_ENDPOINT": moto,
            "AWS_XRAY_DEBUG_MODE": "",  # the SDK's own logging off, as by default
        }
        started = time.time()
        done = subprocess.run(
            ["node", "scenario.js"],
            cwd=NODE_CLIENT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        ran = json.loads(done.stdout.strip().splitlines()[-1])
        client = xray.client()
        requests = {request["kind"]: request for request in ran["requests"]}
        traces = wait_for(
            lambda: whole_traces(client, requests), timeout=30, what="the Node SDK's traces"
        )
        window = {"StartTime": started - 60, "EndTime": time.time() + 60}
        yield ran, requests, traces, client, window, xray, directory


def whole_traces(client: Any, requests: dict[str, Any]) -> dict[str, Any] | None:
    """The traces by request kind once each is stored whole (the large one with all 150 of
    its streamed subsegments placed under its segment), else None."""
    ids = [request["trace_id"] for request in requests.values()]
    found = {t["Id"]: t for t in client.batch_get_traces(TraceIds=ids)["Traces"]}
    if len(found) < len(ids):
        return None
    traces = {kind: found[request["trace_id"]] for kind, request in requests.items()}
    (large,) = documents(traces["large"])
    steps = [e for e in walk(large) if e["name"].startswith("step-")]
    return traces if len(steps) == 150 else None


def test_every_request_was_sampled_by_the_rule_polled_from_the_local_daemon(scenario: Any) -> None:
    ran, requests, traces, *_ = scenario
    assert [r["kind"] for r in ran["requests"]] == [
        "warm-up",
        "http",
        "dynamodb",
        "async-error",
        "large",
    ]
    assert all(request["sampled"] for request in requests.values())
    # Centralized sampling: a decision made by a rule the SDK fetched over TCP names it.
    rules = {
        kind: (documents(trace)[0].get("aws") or {}).get("xray", {}).get("rule_name")
        for kind, trace in traces.items()
    }
    assert rules["large"] == "Default", rules


def test_the_async_error_is_stored_with_its_null_line_numbers_and_drawn(
    scenario: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _, requests, traces, _, _, xray, directory = scenario
    (segment,) = documents(traces["async-error"])
    (work,) = [e for e in walk(segment) if e["name"] == "async-work"]
    (exception,) = work["cause"]["exceptions"]
    assert exception["message"] == "async boom"
    assert None in [frame["line"] for frame in exception["stack"]]  # node:internal frames
    assert segment["fault"] is True and work["fault"] is True
    # Kept whole, with a note in the local X-Ray's log of what X-Ray ignores in it
    log = (directory / "local-xray.log").read_text()
    assert "rejected" not in log
    assert "cause.exceptions[0].stack[1].line: null is not a line number" in log
    picture = directory / "flame.svg"
    trace_id = requests["async-error"]["trace_id"]
    code = cli(["flame", trace_id, "--endpoint", xray.api_url, "--output", str(picture)])
    capsys.readouterr()
    assert code == 0 and "exception Error: async boom" in picture.read_text()


def test_the_graph_has_the_service_http_and_dynamodb_nodes_counted_as_documented(
    scenario: Any,
) -> None:
    ran, _, traces, client, window, *_ = scenario
    services = client.get_service_graph(**window)["Services"]
    by_key = {(s["Name"], s["Type"]): s for s in services}
    service = next(s for s in services if s["Name"] == ran["service"] and s["Type"] != "client")
    edges = {
        (services_by_reference(services)[e["ReferenceId"]]["Name"]): e["SummaryStatistics"]
        for e in service["Edges"]
    }
    assert ("127.0.0.1", "remote") in by_key
    assert ("orders", "AWS::DynamoDB::Table") in by_key
    assert ("no-such-table", "AWS::DynamoDB::Table") in by_key
    # 200, 404, 429, 500 from the downstream server: each flag in its own statistic.
    http = edges["127.0.0.1"]
    assert http["TotalCount"] == 4 and http["OkCount"] == 1
    assert http["ErrorStatistics"] == {"ThrottleCount": 1, "OtherCount": 1, "TotalCount": 2}
    assert http["FaultStatistics"] == {"OtherCount": 1, "TotalCount": 1}
    # DynamoDB's 400 for the missing table: counted by the flags the SDK set on it.
    (missing,) = [
        e
        for e in walk(documents(traces["dynamodb"])[0])
        if (e.get("aws") or {}).get("table_name") == "no-such-table"
    ]
    table = edges["no-such-table"]
    assert missing.get("error") is True and table["ErrorStatistics"]["TotalCount"] == 1
    assert table["FaultStatistics"]["TotalCount"] == (1 if missing.get("fault") else 0)
    assert edges["orders"]["OkCount"] >= 1


def services_by_reference(services: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {s["ReferenceId"]: s for s in services}


@pytest.mark.parametrize("flag", ["error", "throttle", "fault"])
def test_the_trace_with_the_failed_calls_is_found_by_each_flag(scenario: Any, flag: str) -> None:
    _, requests, _, client, window, *_ = scenario
    found = client.get_trace_summaries(**window, FilterExpression=flag)["TraceSummaries"]
    assert requests["http"]["trace_id"] in {summary["Id"] for summary in found}
