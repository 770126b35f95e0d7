"""aws-xray-sdk for Python with its defaults (patch_all, centralized sampling) against moto
and the local X-Ray started as users start it: DynamoDB's 400 (flagged error + fault) and a
429 without a request id (error + fault + throttle, "request_id": null) keep their trace,
found by each flag's filter and counted as documented (issue 14)."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from downstream_support import moto_server
from local_xray_clients import documents, fresh, local_xray_command, wait_for, walk

APP = Path(__file__).resolve().parents[1] / "clients" / "python" / "traced_app.py"


class _Answers(http.server.BaseHTTPRequestHandler):
    """/stock answers 200; any POST (a DynamoDB call) a 429 with no x-amzn-RequestId."""

    def do_GET(self) -> None:  # noqa: N802
        self._answer(200, b"{}")

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer(429, b'{"__type":"ThrottlingException","message":"Rate exceeded"}')

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def answers() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory, answers: str) -> Iterator[Any]:
    directory = tmp_path_factory.mktemp("python-client")
    with moto_server() as moto, local_xray_command(directory) as xray:
        fresh(moto)
        environment = {
            **os.environ,
            "AWS_XRAY_DAEMON_ADDRESS": xray.udp,
            "MOTO_ENDPOINT": moto,
            "THROTTLING_ENDPOINT": answers,
            "WEB_ENDPOINT": answers,
        }
        environment.pop("AWS_XRAY_SDK_ENABLED", None)
        started = time.time()
        done = subprocess.run(
            [sys.executable, str(APP)], env=environment, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        ran = {r["kind"]: r for r in json.loads(done.stdout.strip().splitlines()[-1])["requests"]}
        client = xray.client()

        def stored() -> dict[str, Any] | None:
            ids = [r["trace_id"] for r in ran.values()]
            traces = client.batch_get_traces(TraceIds=ids)["Traces"]
            return {t["Id"]: t for t in traces} if len(traces) == len(ids) else None

        traces = wait_for(stored, timeout=30, what="the Python SDK's traces")
        window = {"StartTime": started - 60, "EndTime": time.time() + 60}
        yield ran, traces, client, window, directory


def test_the_defaults_sample_by_the_rule_from_the_local_daemon(scenario: Any) -> None:
    ran, traces, *_ = scenario
    for request in ran.values():
        assert request["sampled"]
        (segment,) = documents(traces[request["trace_id"]])
        assert segment["aws"]["xray"]["sampling_rule_name"] == "Default"


def test_a_429_without_a_request_id_keeps_its_trace_with_all_three_flags(scenario: Any) -> None:
    ran, traces, *_ = scenario
    (segment,) = documents(traces[ran["failing"]["trace_id"]])
    calls = {e["aws"].get("table_name"): e for e in walk(segment) if e.get("namespace") == "aws"}
    throttled, missing = calls["busy-table"], calls["no-such-table"]
    assert throttled["aws"]["request_id"] is None  # what the schema forbids, X-Ray stores
    assert (throttled["error"], throttled["throttle"], throttled["fault"]) == (True, True, True)
    assert (missing["error"], missing["fault"]) == (True, True) and "throttle" not in missing


@pytest.mark.parametrize("flag", ["error", "throttle", "fault"])
def test_the_failing_trace_is_found_by_each_flag_and_the_other_by_none(
    scenario: Any, flag: str
) -> None:
    ran, _, client, window, _ = scenario
    found = client.get_trace_summaries(**window, FilterExpression=flag)["TraceSummaries"]
    ids = {summary["Id"] for summary in found}
    assert ran["failing"]["trace_id"] in ids and ran["ok"]["trace_id"] not in ids


def test_the_tables_are_counted_by_each_flag_they_carry(scenario: Any) -> None:
    _, _, client, window, directory = scenario
    services = client.get_service_graph(**window)["Services"]
    by_reference = {s["ReferenceId"]: s for s in services}
    (service,) = [s for s in services if s["Name"] == "python-orders" and s["Type"] != "client"]
    edges = {
        by_reference[e["ReferenceId"]]["Name"]: e["SummaryStatistics"] for e in service["Edges"]
    }
    assert edges["busy-table"]["ErrorStatistics"] == {
        "ThrottleCount": 1,
        "OtherCount": 0,
        "TotalCount": 1,
    }
    assert edges["busy-table"]["FaultStatistics"]["TotalCount"] == 1
    assert edges["busy-table"]["OkCount"] == 0 and edges["busy-table"]["TotalCount"] == 1
    assert edges["no-such-table"]["ErrorStatistics"]["OtherCount"] == 1
    assert edges["no-such-table"]["FaultStatistics"]["TotalCount"] == 1
    assert edges["orders"]["OkCount"] == 2
    assert "rejected" not in (directory / "local-xray.log").read_text()
