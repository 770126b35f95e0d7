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


NodeName = tuple[str, str]
Edge = tuple[NodeName, NodeName, bool]


def map_shape(summary: dict[str, Any]) -> tuple[set[NodeName], set[Edge]]:
    """The map's nodes as (type, name) and edges as (source, target, async); a queue by its
    name, as moto's port changes from run to run."""

    def name(node: dict[str, Any]) -> NodeName:
        if node["type"] == "AWS::SQS::Queue":
            return node["type"], node["name"].rsplit("/", 1)[-1]
        return node["type"], node["name"]

    by_id = {node["id"]: node for node in summary["nodes"]}
    edges = {
        (name(by_id[edge["source_id"]]), name(by_id[edge["target_id"]]), edge["async"])
        for edge in summary["edges"]
    }
    return {name(node) for node in summary["nodes"]}, edges


def test_demo_in_otlp_mode_draws_the_same_map(tmp_path: Path) -> None:
    layers = assemble_tracing_layer(tmp_path / "layers")
    results = {}
    for exporter in ("xray", "otlp"):
        settings = DemoSettings(
            template=ROOT / "template.yaml",
            output=tmp_path / exporter,
            requests=24,
            concurrency=3,
            throttle_every=3,
            drain_timeout=60,
            layer_dirs=layers,
            progress=None,
            exporter=exporter,
        )
        results[exporter] = run_demo(settings, say=lambda line: None)
        assert results[exporter].problems == [], exporter
        assert results[exporter].summary is not None, exporter
    result = results["otlp"]
    summary = result.summary
    assert summary is not None and results["xray"].summary is not None
    # The X-Ray mode's map, node for node and edge for edge; no edge from a node to itself
    # (an OTel handler span under Lambda's function segment is that node's own work).
    nodes, edges = map_shape(summary)
    assert (nodes, edges) == map_shape(results["xray"].summary)
    assert [edge for edge in summary["edges"] if edge["source_id"] == edge["target_id"]] == []
    assert {
        ("AWS::SQS::Queue", "OrdersQueue"),
        ("AWS::DynamoDB::Table", "OrdersTable"),
        ("remote", PAYMENT_HOST),
    } <= nodes
    for function in ("OrdersFunction", "WorkerFunction"):
        assert ("AWS::Lambda", function) in nodes
        assert ("AWS::Lambda::Function", function) in nodes
    assert any(kind.startswith("AWS::SNS") for kind, _ in nodes)
    queue, orders = ("AWS::SQS::Queue", "OrdersQueue"), ("AWS::Lambda::Function", "OrdersFunction")
    assert (orders, queue, False) in edges
    assert (queue, ("AWS::Lambda", "WorkerFunction"), True) in edges
    assert (("AWS::Lambda::Function", "WorkerFunction"), ("remote", PAYMENT_HOST), False) in edges
    assert result.full_trace is not None
    assert checks.hops(result.full_trace, PAYMENT_HOST) == checks.FULL_PATH
    # The layer's spans came as OTLP: the handler span is a segment of its own (a SERVER span
    # converted), with the layer's annotations, under Lambda's function segment.
    handler_segments = [
        document
        for document in _documents(result.full_trace)
        if document.get("annotations", {}).get("Service") == "orders"
        and "parent_id" in document
        and document.get("type") != "subsegment"
    ]
    assert handler_segments, _documents(result.full_trace)
