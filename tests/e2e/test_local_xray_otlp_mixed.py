"""Acceptance 2 of issue 15: OpenTelemetry services and a function traced by our layer
(X-Ray mode) calling each other over HTTP make ONE trace in the local X-Ray.

storefront (OTel, ADOT's UDP exporter) --HTTP--> local API Gateway --> BridgeFunction
(awslambdaric, the tracing layer through AWS_LAMBDA_EXEC_WRAPPER) --HTTP--> inventory (OTel,
OTLP/HTTP exporter). Each hop carries the trace in its headers as the real thing does."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from e2e_support import ROOT, assemble_tracing_layer, xray_client
from lambda_tracing_local.runtime.api_front import ApiFront
from lambda_tracing_local.runtime.local_lambda import LocalLambda
from lambda_tracing_local.runtime.template import LocalValues
from lambda_tracing_local.xray import LocalXRay

pytestmark = pytest.mark.e2e
ADOT_PYTHON = ROOT / ".tools/adot/bin/python"
SERVICES = Path(__file__).with_name("otel_services.py")
TEMPLATE = Path(__file__).with_name("otlp_app") / "template.yaml"


def walk(element: dict[str, Any]) -> list[dict[str, Any]]:
    found = [element]
    for child in element.get("subsegments") or ():
        found.extend(walk(child))
    return found


@pytest.mark.skipif(not ADOT_PYTHON.exists(), reason="ADOT not installed: run `make tools`")
def test_otel_services_and_a_traced_function_make_one_trace(
    xray: LocalXRay, tmp_path: Path
) -> None:
    inventory = subprocess.Popen(
        [sys.executable, str(SERVICES), "inventory", f"{xray.api_url}/v1/traces"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert inventory.stdout is not None
        inventory_url = f"http://127.0.0.1:{inventory.stdout.readline().strip()}/stock"
        with (
            LocalLambda(
                TEMPLATE,
                LocalValues(),
                "http://127.0.0.1:9",
                assemble_tracing_layer(tmp_path / "layers"),
                xray_daemon=xray.udp_address,
                xray_api=xray.api_url,
            ) as functions,
            ApiFront(functions, xray.udp_address) as api,
        ):
            done = subprocess.run(
                [
                    str(ADOT_PYTHON),
                    str(SERVICES),
                    "storefront",
                    xray.udp_address,
                    f"{api.url}/bridge?next={inventory_url}",
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
        assert done.returncode == 0, done.stderr
        trace_hex, status = done.stdout.split()
        assert status == "200"
    finally:
        inventory.communicate("", timeout=30)

    trace_id = f"1-{trace_hex[:8]}-{trace_hex[8:]}"
    # storefront's 2 spans, the stage, Lambda's 2 segments, the function, inventory's span
    assert xray.wait_for(7, timeout=30), xray.stats
    client = xray_client(xray)
    traces = client.batch_get_traces(TraceIds=[trace_id])["Traces"]
    assert len(traces) == 1
    documents = [json.loads(segment["Document"]) for segment in traces[0]["Segments"]]
    segments = {(d["name"], d.get("origin")): d for d in documents}
    stage = next(key for key in segments if key[1] == "AWS::ApiGateway::Stage")
    assert set(segments) == {
        ("storefront", None),
        stage,
        ("BridgeFunction", "AWS::Lambda"),
        ("BridgeFunction", "AWS::Lambda::Function"),
        ("inventory", None),
    }
    storefront = segments[("storefront", None)]
    function = segments[("BridgeFunction", "AWS::Lambda::Function")]
    (call,) = storefront["subsegments"]  # OTel's client span, nested under its server span
    assert segments[stage]["parent_id"] == call["id"]  # the stage continued OTel's header
    outbound = next(s for s in walk(function) if s.get("namespace") == "remote")
    assert segments[("inventory", None)]["parent_id"] == outbound["id"]  # OTel continued ours
    assert all(d["trace_id"] == trace_id for d in documents)

    now = time.time()
    graph = client.get_service_graph(StartTime=now - 300, EndTime=now + 60)["Services"]
    ids = {(s["Name"], s["Type"]): s["ReferenceId"] for s in graph}
    edges = {(s["Name"], s["Type"]): {e["ReferenceId"] for e in s["Edges"]} for s in graph}
    assert ids[stage] in edges[("storefront", "service")]
    assert ids[("inventory", "service")] in edges[("BridgeFunction", "AWS::Lambda::Function")]
    assert not [key for key in ids if key[1] == "remote"]  # every call answered by a service
