"""Acceptance 1 of issue 15: OpenTelemetry's real exporters, each from its own process,
into the local X-Ray - ADOT's OTLPUdpSpanExporter over the daemon's UDP port, and the
standard OTLP/HTTP exporter to POST /v1/traces - and the trace read back as X-Ray shows it:
BatchGetTraces, GetServiceGraph, `lambda-tracing flame` and `map`."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from lambda_tracing_local.cli import main as cli
from lambda_tracing_local.xray import LocalXRay
from test_local_xray_support import client

ROOT = Path(__file__).resolve().parents[2]
ADOT_PYTHON = ROOT / ".tools/adot/bin/python"
SENDER = Path(__file__).with_name("otlp_sender.py")
needs_adot = pytest.mark.skipif(
    not ADOT_PYTHON.exists(), reason="ADOT not installed: run `make tools`"
)


class Unavailable(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def failing_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://localhost:{server.server_address[1]}/inventory"
    server.shutdown()
    server.server_close()


@pytest.fixture()
def xray() -> Iterator[LocalXRay]:
    with LocalXRay(ingest_processes=0) as local:
        yield local


def send(
    python: Path | str, kind: str, endpoint: str, function: str, url: str, *traceparent: str
) -> str:
    done = subprocess.run(
        [str(python), str(SENDER), kind, endpoint, function, url, *traceparent],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1]


def xray_id(hex_id: str) -> str:
    return f"1-{hex_id[:8]}-{hex_id[8:]}"


def check_trace(xr: LocalXRay, trace_id: str, function: str, capsys: Any, tmp_path: Path) -> None:
    assert xr.wait_for(3, timeout=20), xr.stats
    xray = client(xr.api_url)
    traces = xray.batch_get_traces(TraceIds=[trace_id])["Traces"]
    assert [t["Id"] for t in traces] == [trace_id]
    (segment,) = [json.loads(s["Document"]) for s in traces[0]["Segments"]]
    assert (segment["name"], segment["origin"]) == (function, "AWS::Lambda::Function")
    assert segment["fault"] is True
    (exception,) = segment["cause"]["exceptions"]
    assert exception["type"] == "KeyError" and "order 42" in exception["message"]
    assert exception["stack"][0]["label"] == "main"
    calls = {s["namespace"]: s for s in segment["subsegments"]}
    assert calls["remote"]["name"] == "localhost" and calls["remote"]["fault"] is True
    assert calls["remote"]["http"]["response"]["status"] == 503
    assert calls["remote"]["http"]["request"]["method"] == "GET"
    assert calls["aws"]["name"] == "DynamoDB"
    assert calls["aws"]["aws"]["table_name"] == "orders-table"
    assert calls["aws"]["aws"]["operation"] == "PutItem"

    now = time.time()
    summaries = xray.get_trace_summaries(StartTime=now - 300, EndTime=now + 60)
    (summary,) = [t for t in summaries["TraceSummaries"] if t["Id"] == trace_id]
    assert summary["HasFault"] is True
    assert function in {service["Name"] for service in summary["ServiceIds"]}
    graph = xray.get_service_graph(StartTime=now - 300, EndTime=now + 60)["Services"]
    nodes = {(s["Name"], s["Type"]): s for s in graph}
    assert set(nodes) == {
        (function, "client"),
        (function, "AWS::Lambda::Function"),
        ("orders-table", "AWS::DynamoDB::Table"),
        ("localhost", "remote"),
    }
    ids = {key: s["ReferenceId"] for key, s in nodes.items()}
    edges = {e["ReferenceId"] for e in nodes[(function, "AWS::Lambda::Function")]["Edges"]}
    assert edges == {ids[("orders-table", "AWS::DynamoDB::Table")], ids[("localhost", "remote")]}

    target = tmp_path / "flame.html"
    assert cli(["flame", trace_id, "--endpoint", xr.api_url, "--output", str(target)]) == 0
    picture = target.read_text()
    assert "order 42 has no customer" in picture and "KeyError" in picture
    capsys.readouterr()
    assert (
        cli(["map", "--local", "--endpoint", xr.api_url, "--since", "10m", "--format", "json"]) == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert {(n["name"], n["type"]) for n in summary["nodes"]} == set(nodes)


@needs_adot
def test_adot_udp_exporter_into_the_daemon(
    xray: LocalXRay, failing_url: str, capsys: Any, tmp_path: Path
) -> None:
    trace_hex = send(ADOT_PYTHON, "udp", xray.udp_address, "adot-orders", failing_url)
    check_trace(xray, xray_id(trace_hex), "adot-orders", capsys, tmp_path)
    stats = xray.wait_until_idle()
    assert (stats["received"], stats["stored"], stats["rejected"]) == (3, 3, 0)


def test_otlp_http_exporter_into_v1_traces(
    xray: LocalXRay, failing_url: str, capsys: Any, tmp_path: Path
) -> None:
    endpoint = f"{xray.api_url}/v1/traces"
    trace_hex = send(sys.executable, "http", endpoint, "http-orders", failing_url)
    check_trace(xray, xray_id(trace_hex), "http-orders", capsys, tmp_path)
    assert xray.stats["stored"] == 3 and xray.stats["rejected"] == 0


def test_a_handler_span_under_lambdas_function_segment_is_one_function_node(
    xray: LocalXRay, failing_url: str
) -> None:
    """On Lambda the handler span's parent is Lambda's AWS::Lambda::Function segment (the
    Parent of _X_AMZN_TRACE_ID): the graph draws the function once, with no self-edge."""
    trace_hex = "6613e4d0" + "5c1f7ab2d8e94e0f3a2b1c0d"
    trace_id = xray_id(trace_hex)
    now = time.time()
    service = {
        "trace_id": trace_id,
        "id": "a1b2c3d4e5f60718",
        "name": "lambda-orders",
        "origin": "AWS::Lambda",
        "start_time": now - 2,
        "end_time": now + 1,
    }
    function = {
        "trace_id": trace_id,
        "id": "0f1e2d3c4b5a6978",
        "parent_id": service["id"],
        "name": "lambda-orders",
        "origin": "AWS::Lambda::Function",
        "start_time": now - 1.9,
        "end_time": now + 0.9,
    }
    xray_client = client(xray.api_url)
    unprocessed = xray_client.put_trace_segments(
        TraceSegmentDocuments=[json.dumps(service), json.dumps(function)]
    )["UnprocessedTraceSegments"]
    assert unprocessed == []
    send(
        sys.executable,
        "http",
        f"{xray.api_url}/v1/traces",
        "lambda-orders",
        failing_url,
        f"00-{trace_hex}-{function['id']}-01",
    )
    assert xray.wait_for(5, timeout=20), xray.stats
    graph = xray_client.get_service_graph(StartTime=now - 300, EndTime=now + 60)["Services"]
    nodes = {(s["Name"], s["Type"]): s for s in graph}
    ids = {key: s["ReferenceId"] for key, s in nodes.items()}
    node = nodes[("lambda-orders", "AWS::Lambda::Function")]
    assert node["SummaryStatistics"]["TotalCount"] == 1
    edges = {e["ReferenceId"] for e in node["Edges"]}
    assert ids[("lambda-orders", "AWS::Lambda::Function")] not in edges
    assert edges == {ids[("orders-table", "AWS::DynamoDB::Table")], ids[("localhost", "remote")]}
