"""JSON, table and Mermaid renderings of a summary."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from service_map.formats import to_json, to_mermaid, to_table
from service_map.summary import load_pages, summarise
from service_map.synthetic import generate_pages

FIXTURES = Path(__file__).parents[1] / "fixtures" / "xray"


@pytest.fixture(scope="module", params=["awsdocs", "lambda-sqs.grafana"])
def summary(request: pytest.FixtureRequest) -> dict:
    text = (FIXTURES / f"get-service-graph.{request.param}.json").read_text()
    return summarise(load_pages(text))


def test_json_round_trips(summary: dict) -> None:
    text = to_json(summary)
    assert text.endswith("\n") and json.loads(text) == summary


def test_table_fits_80_columns_and_shows_the_numbers(summary: dict) -> None:
    table = to_table(summary)
    assert max(len(line) for line in table.splitlines()) <= 80
    for node in summary["nodes"]:
        assert node["name"][:15] in table
        if node["statistics"]:
            assert str(node["statistics"]["requests"]) in table
    assert "HEALTH" in table and summary["window"]["start"] in table


def test_table_of_the_awsdocs_example() -> None:
    summary = summarise([json.loads((FIXTURES / "get-service-graph.awsdocs.json").read_text())])
    row = next(line for line in to_table(summary).splitlines() if "EC2::Instance" in line)
    # requests 4, 4xx 25.0%, 5xx 0.0%, p50 15.0 ms, p99 157 ms, failing
    assert row.split()[-6:] == ["4", "25.0", "0.0", "15.0", "157", "failing"]


def test_table_of_a_large_graph_still_fits() -> None:
    table = to_table(summarise(generate_pages(30, 80)), width=80)
    assert max(len(line) for line in table.splitlines()) <= 80


def test_mermaid_has_every_node_and_edge(summary: dict) -> None:
    text = to_mermaid(summary)
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    assert len([line for line in lines if re.match(r"  n\d+\(?\[", line)]) == len(summary["nodes"])
    arrows = [line for line in lines if "-->" in line or "-.->" in line]
    assert len(arrows) == len(summary["edges"])
    assert all(re.fullmatch(r'  n\d+ -(-|\.-)>\|"[^"]*"\| n\d+', line) for line in arrows)


def test_mermaid_escapes_and_marks_async_edges() -> None:
    page = {
        "StartTime": 0,
        "EndTime": 60,
        "Services": [
            {
                "ReferenceId": 0,
                "Name": 'say "hi" #1 <b>',
                "Type": "AWS::SQS::Queue",
                "Edges": [
                    {
                        "ReferenceId": 1,
                        "EdgeType": "link",
                        "SummaryStatistics": {},
                        "ReceivedEventAgeHistogram": [{"Value": 2.5, "Count": 3}],
                    }
                ],
            },
            {"ReferenceId": 1, "Name": "consumer", "Type": "AWS::Lambda", "Edges": []},
        ],
    }
    text = to_mermaid(summarise([page]))
    assert "say #quot;hi#quot; #35;1 #lt;b#gt;<br/>SQS::Queue" in text
    assert re.search(r'n\d+ -\.->\|"0 req, age p99 2500 ms"\| n\d+', text)
