"""Group-level worst-case metrics, from a summary with faults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from service_map.emf import emit_metrics, group_worst
from service_map.summary import summarise

FIXTURES = Path(__file__).parents[1] / "fixtures" / "xray"


@pytest.fixture
def faulty() -> dict:
    page = json.loads((FIXTURES / "get-service-graph.awsdocs.json").read_text())
    sns = next(s for s in page["Services"] if s["Name"] == "SNS")
    # One of the SNS node's 2 requests is now a fault: 50% (its incoming edge unchanged).
    sns["SummaryStatistics"].update(OkCount=1, FaultStatistics={"OtherCount": 1, "TotalCount": 1})
    return summarise([page])


def test_worst_fault_rate_p99_and_root_requests(faulty: dict) -> None:
    # Worst fault rate 1/2 = 50% (SNS node); worst p99 157 ms (EC2 root and the client's
    # edge); requests into the only root, EC2: 4.
    assert group_worst(faulty) == {"WorstFaultRate": 50.0, "WorstP99": 157.0, "Requests": 4}


def test_no_timings_means_no_worst_p99() -> None:
    empty = summarise([{"StartTime": 0, "EndTime": 60, "Services": []}])
    assert group_worst(empty) == {"WorstFaultRate": 0.0, "Requests": 0}


def test_emitted_blobs(faulty: dict, capsys: pytest.CaptureFixture) -> None:
    counts = emit_metrics(faulty, "Test", max_nodes=5, max_edges=1)
    assert counts == {"nodes": 1, "nodes_capped": 0, "edges": 1, "edges_capped": 2}
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"] for blob in blobs] == [
        [["Group"]],
        [["Group", "Service", "ServiceType"]],
        [["Group", "Source", "Target"]],
    ]
    assert blobs[0]["WorstFaultRate"] == [50.0] and blobs[0]["Group"] == "Default"


def test_dimension_values_cloudwatch_would_drop_or_refuse_are_mended(
    capsys: pytest.CaptureFixture,
) -> None:
    page = json.loads((FIXTURES / "get-service-graph.awsdocs.json").read_text())
    for service in page["Services"]:  # the client and the EC2 service: one edge between them
        if service["Name"] == "xray-sample.elasticbeanstalk.com":
            service["Name"] = "" if service.get("Type") == "client" else "x" * 5000
    emit_metrics(summarise([page]), "Test", max_nodes=5, max_edges=5)
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    edge_sets = [
        blob
        for blob in blobs
        if blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Group", "Source", "Target"]]
    ]
    assert len(edge_sets) == 3  # every edge keeps its three dimensions
    values = [
        blob[name] for blob in blobs for name in ("Service", "Source", "Target") if name in blob
    ]
    assert "(empty)" in values and max(map(len, values)) == 1024
