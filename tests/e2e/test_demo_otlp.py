"""Issue 15: the demo with the layer in OTLP mode (`lambda-tracing demo --exporter otlp`) draws
the X-Ray mode's map: the same nodes, the same calls from each function, one trace end to end.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from e2e_support import ROOT, assemble_tracing_layer
from lambda_tracing_local.demo import checks
from lambda_tracing_local.demo.flow import PAYMENT_HOST, DemoSettings, run_demo

pytestmark = pytest.mark.e2e


def _documents(trace: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(segment["Document"]) for segment in trace["Segments"]]


def test_demo_in_otlp_mode_draws_the_same_map(tmp_path: Path) -> None:
    layers = assemble_tracing_layer(tmp_path / "layers")
    settings = DemoSettings(
        template=ROOT / "template.yaml", output=tmp_path / "out", requests=24, concurrency=3,
        throttle_every=3, drain_timeout=60, layer_dirs=layers, progress=None, exporter="otlp",
    )
    result = run_demo(settings, say=lambda line: None)
    assert result.problems == []
    summary = result.summary
    assert summary is not None
    names = {(node["type"], node["name"]) for node in summary["nodes"]}
    for function in ("OrdersFunction", "WorkerFunction"):
        assert ("AWS::Lambda", function) in names
        assert ("AWS::Lambda::Function", function) in names
    types = {node["type"] for node in summary["nodes"]}
    assert {"AWS::DynamoDB::Table", "AWS::SQS::Queue", "client"} <= types
    assert any(kind.startswith("AWS::SNS") for kind in types)
    assert ("remote", PAYMENT_HOST) in names
    by_id = {node["id"]: node for node in summary["nodes"]}
    calls = {(by_id[edge["source_id"]]["name"], by_id[edge["target_id"]]["type"])
             for edge in summary["edges"]}
    assert ("OrdersFunction", "AWS::DynamoDB::Table") in calls
    assert ("OrdersFunction", "AWS::SQS::Queue") in calls
    assert ("WorkerFunction", "remote") in calls
    assert result.full_trace is not None
    assert checks.hops(result.full_trace, PAYMENT_HOST) == checks.FULL_PATH
    # The layer's spans came as OTLP: the handler span is a segment of its own (a SERVER span
    # converted), with the layer's annotations, under Lambda's function segment.
    handler_segments = [document for document in _documents(result.full_trace)
                        if document.get("annotations", {}).get("Service") == "orders"
                        and "parent_id" in document and document.get("type") != "subsegment"]
    assert handler_segments, _documents(result.full_trace)
