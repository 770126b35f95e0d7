"""The AWS CLI v1 (awscli from PyPI, in .tools/awscli: `make tools`) against the local X-Ray
started as users start it, through --endpoint-url: put-trace-segments with a valid and an
invalid document, get-trace-summaries with pagination and a filter, batch-get-traces,
get-service-graph and get-sampling-rules (issue 14)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from local_xray_clients import RunningXRay, local_xray_command

ROOT = Path(__file__).resolve().parents[2]
AWS = ROOT / ".tools/awscli/bin/aws"
pytestmark = pytest.mark.skipif(not AWS.exists(), reason="AWS CLI not installed: run `make tools`")
TRACES = 120  # more than one page of GetTraceSummaries (100 traces a page)


def aws(xray: RunningXRay, *arguments: str, check: bool = True) -> Any:
    environment = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    done = subprocess.run(
        [str(AWS), "xray", *arguments, "--endpoint-url", xray.api_url, "--output", "json"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def segment(number: int, now: float) -> dict[str, Any]:
    """Trace `number`: a service calling DynamoDB; every tenth call faults."""
    start = now - 30 + number * 0.01
    return {
        "name": "cli-orders",
        "id": f"{number:016x}",
        "trace_id": f"1-{int(now):08x}-{number:024x}",
        "start_time": start,
        "end_time": start + 0.05,
        "annotations": {"customer": f"c-{number % 3}"},
        "subsegments": [
            {
                "name": "DynamoDB",
                "id": f"{number + 1_000_000:016x}",
                "namespace": "aws",
                "start_time": start + 0.01,
                "end_time": start + 0.04,
                "aws": {"operation": "GetItem", "table_name": "orders"},
                **({"fault": True} if number % 10 == 0 else {}),
            }
        ],
    }


@pytest.fixture(scope="module")
def xray(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningXRay, float, Path]]:
    directory = tmp_path_factory.mktemp("awscli")
    with local_xray_command(directory) as running:
        now = time.time()
        batch = directory / "segments.json"
        documents = [json.dumps(segment(n, now)) for n in range(TRACES)]
        batch.write_text(json.dumps({"TraceSegmentDocuments": documents}))
        answer = aws(running, "put-trace-segments", "--cli-input-json", f"file://{batch}")
        assert answer == {"UnprocessedTraceSegments": []}
        yield running, now, directory


def test_put_trace_segments_takes_the_valid_and_names_the_field_of_the_invalid(
    xray: tuple[RunningXRay, float, Path],
) -> None:
    running, now, _ = xray
    valid = segment(501, now)  # no fault (every tenth faults), customer c-0
    invalid = dict(segment(503, now), trace_id="1-not-a-trace-id")
    answer = aws(
        running,
        "put-trace-segments",
        "--trace-segment-documents",
        json.dumps(valid),
        json.dumps(invalid),
    )
    assert answer == {
        "UnprocessedTraceSegments": [
            {
                "Id": invalid["id"],
                "ErrorCode": "InvalidTraceId",
                "Message": "trace_id: '1-not-a-trace-id' is not 1-<8 hexadecimal digits>"
                "-<24 hexadecimal digits>",
            }
        ]
    }
    found = aws(running, "batch-get-traces", "--trace-ids", valid["trace_id"])
    assert [trace["Id"] for trace in found["Traces"]] == [valid["trace_id"]]


def test_get_trace_summaries_pages_and_filters(xray: tuple[RunningXRay, float, Path]) -> None:
    running, now, _ = xray
    window = ["--start-time", str(now - 60), "--end-time", str(now + 60)]
    ids = {segment(n, now)["trace_id"] for n in range(TRACES)}
    # The CLI follows NextToken through the server's pages of 100.
    every = aws(running, "get-trace-summaries", *window)
    assert ids <= {summary["Id"] for summary in every["TraceSummaries"]}
    # and pages on its own with --max-items / --starting-token
    first = aws(running, "get-trace-summaries", *window, "--max-items", "70")
    assert len(first["TraceSummaries"]) == 70 and first["NextToken"]
    rest = aws(running, "get-trace-summaries", *window, "--starting-token", first["NextToken"])
    seen = [s["Id"] for s in first["TraceSummaries"] + rest["TraceSummaries"]]
    assert len(seen) == len(set(seen)) and ids <= set(seen)
    faulty = aws(running, "get-trace-summaries", *window, "--filter-expression", "fault")
    assert {s["Id"] for s in faulty["TraceSummaries"]} == {
        segment(n, now)["trace_id"] for n in range(0, TRACES, 10)
    }
    customer = aws(
        running,
        "get-trace-summaries",
        *window,
        "--filter-expression",
        'annotation.customer = "c-1"',
    )
    assert len(customer["TraceSummaries"]) == len(range(1, TRACES, 3))


def test_batch_get_traces_returns_the_documents(xray: tuple[RunningXRay, float, Path]) -> None:
    running, now, _ = xray
    wanted = [segment(n, now) for n in (3, 4)]
    found = aws(running, "batch-get-traces", "--trace-ids", *(s["trace_id"] for s in wanted))
    stored = {t["Id"]: json.loads(t["Segments"][0]["Document"]) for t in found["Traces"]}
    assert stored == {s["trace_id"]: s for s in wanted}
    assert found["UnprocessedTraceIds"] == []


def test_get_service_graph_draws_the_service_and_its_table(
    xray: tuple[RunningXRay, float, Path],
) -> None:
    running, now, _ = xray
    graph = aws(
        running, "get-service-graph", "--start-time", str(now - 60), "--end-time", str(now + 60)
    )
    nodes = {(s["Name"], s["Type"]): s for s in graph["Services"]}
    table = nodes[("orders", "AWS::DynamoDB::Table")]
    assert ("cli-orders", "service") in nodes and ("cli-orders", "client") in nodes
    assert table["SummaryStatistics"]["FaultStatistics"]["TotalCount"] == len(range(0, TRACES, 10))


def test_get_sampling_rules_lists_the_default_rule(xray: tuple[RunningXRay, float, Path]) -> None:
    running, *_ = xray
    rules = aws(running, "get-sampling-rules")["SamplingRuleRecords"]
    assert [r["SamplingRule"]["RuleName"] for r in rules] == ["Default"]
