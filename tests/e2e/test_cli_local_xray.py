"""The command line against the local X-Ray: the awsdocs trace, moved to the last minute,
goes in through PutTraceSegments; `traces`, `flame` and `map` read it back over loopback."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from lambda_tracing_local.cli import main
from lambda_tracing_local.xray import LocalXRay

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures/xray"


def recent_awsdocs_trace() -> tuple[str, list[str]]:
    """The awsdocs BatchGetTraces documents with a fresh trace id, ending a few seconds ago."""
    trace = json.loads((FIXTURES / "batch-get-traces.awsdocs.json").read_text())["Traces"][0]
    documents = [json.loads(segment["Document"]) for segment in trace["Segments"]]
    now = time.time()
    shift = now - 5 - max(doc["end_time"] for doc in documents)
    trace_id = f"1-{int(now):08x}-{'ab12' * 6}"

    def move(doc: dict[str, Any]) -> None:
        doc["start_time"] += shift
        doc["end_time"] += shift
        for child in doc.get("subsegments", []):
            move(child)

    for doc in documents:
        move(doc)
        doc["trace_id"] = trace_id
    return trace_id, [json.dumps(doc) for doc in documents]


@pytest.fixture(scope="module")
def xray() -> Iterator[tuple[str, str]]:
    with LocalXRay() as local:
        trace_id, documents = recent_awsdocs_trace()
        client = boto3.client(
            "xray",
            endpoint_url=local.api_url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        answer = client.put_trace_segments(TraceSegmentDocuments=documents)
        assert answer["UnprocessedTraceSegments"] == []
        yield local.api_url, trace_id


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_traces_lists_the_trace(xray: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    url, trace_id = xray
    code, out, err = run(["traces", "--local", "--endpoint", url, "--since", "10m"], capsys)
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith(trace_id)]
    assert len(rows) == 1 and "POST 200 /api/user" in rows[0]
    assert max(len(line) for line in out.splitlines()) <= 80


def test_flame_draws_the_trace(
    xray: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, trace_id = xray
    target = tmp_path / "trace.svg"
    code, _, err = run(["flame", trace_id, "--endpoint", url, "--output", str(target)], capsys)
    assert code == 0, err
    svg = target.read_text()
    assert svg.startswith("<svg") and f'data-trace-id="{trace_id}"' in svg
    assert svg.count("data-depth=") == 11


def test_map_summarises_the_graph(
    xray: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = xray
    code, out, err = run(
        ["map", "--local", "--endpoint", url, "--since", "10m", "--format", "json"], capsys
    )
    assert code == 0, err
    summary = json.loads(out)
    assert sorted((node["name"], node["type"]) for node in summary["nodes"]) == [
        ("SNS", "AWS::SNS"),
        ("Scorekeep", "AWS::ElasticBeanstalk::Environment"),
        ("Scorekeep", "client"),
        ("random-name", "AWS::Lambda"),
        ("random-name", "AWS::Lambda::Function"),
        ("scorekeep-user", "AWS::DynamoDB::Table"),
    ]
    assert sorted((edge["source"], edge["target"]) for edge in summary["edges"]) == [
        ("Scorekeep", "Scorekeep"),
        ("Scorekeep", "random-name"),
        ("Scorekeep", "scorekeep-user"),
        ("random-name", "SNS"),
        ("random-name", "random-name"),
    ]


def test_an_unknown_trace_is_one_line(
    xray: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = xray
    missing = "1-00000000-000000000000000000000000"
    code, out, err = run(["flame", missing, "--endpoint", url], capsys)
    assert code == 2 and out == ""
    assert err.splitlines()[-1] == (
        f"lambda-tracing: error: no such trace: {missing} (X-Ray returned nothing for it: "
        "older than 30 days, not processed yet, or never recorded)"
    )


def test_a_stopped_local_xray_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with LocalXRay() as local:
        url = local.api_url
    code, out, err = run(["traces", "--endpoint", url], capsys)
    assert code == 2 and out == ""
    assert err.splitlines()[-1].startswith(f"lambda-tracing: error: cannot reach {url}")
