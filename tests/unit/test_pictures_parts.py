"""The pictures' parts without a browser: text fitting, the graph reading, the layout and the
trace tree."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from service_map.pictures import flame_svg, map_svg
from service_map.pictures.map_depth import depths
from service_map.pictures.map_layout import NODE_H, NODE_W, SLOT_H, layout
from service_map.pictures.map_model import read_graph
from service_map.pictures.text import clip, duration_text, fit, rate_text, text_width
from service_map.pictures.trace_tree import TraceError, read_trace

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures/xray"
SVG = "{http://www.w3.org/2000/svg}"


def test_fit_shortens_in_the_middle_and_clip_at_the_end() -> None:
    name = "https-sqs-us-east-1-amazonaws-com-123456789012-SampleQueue"
    short = fit(name, 120, 13)
    assert short.startswith("https") and short.endswith("Queue") and "…" in short
    assert text_width(short, 13) <= 120
    cut = clip(name, 120, 13)
    assert cut.startswith("https") and cut.endswith("…") and text_width(cut, 13) <= 120
    assert fit("SNS", 120, 13) == clip("SNS", 120, 13) == "SNS"
    assert fit(name, 5, 13) == "" and clip(name, 5, 13) == ""


def node(name: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": kind, "statistics": None, **extra}


def test_names_alone_resolve_by_xray_conventions() -> None:
    """Without ids: the client calls its root; calls arrive at the Lambda service, which
    calls its function, which calls the table."""
    summary = {
        "nodes": [
            node("site", "AWS::EC2::Instance"),
            node("site", "client"),
            node("fn", "AWS::Lambda::Function"),
            node("fn", "AWS::Lambda"),
            node("table", "AWS::DynamoDB::Table"),
        ],
        "edges": [
            {"source": "site", "target": "site"},
            {"source": "site", "target": "fn"},
            {"source": "fn", "target": "fn"},
            {"source": "fn", "target": "table"},
            {"source": "ghost", "target": "table"},
        ],
    }
    graph = read_graph(summary)
    kinds = [(graph.nodes[s]["type"], graph.nodes[t]["type"]) for s, t in graph.ends]
    assert kinds == [
        ("client", "AWS::EC2::Instance"),
        ("AWS::EC2::Instance", "AWS::Lambda"),
        ("AWS::Lambda", "AWS::Lambda::Function"),
        ("AWS::Lambda::Function", "AWS::DynamoDB::Table"),
        (None, "AWS::DynamoDB::Table"),
    ]
    assert graph.nodes[-1]["name"] == "ghost"  # an edge's unknown end is still drawn


def test_ids_win_over_names() -> None:
    summary = {
        "nodes": [node("a", "client", id="c/a"), node("a", "AWS::Lambda", id="l/a")],
        "edges": [{"source": "a", "target": "a", "source_id": "l/a", "target_id": "c/a"}],
    }
    assert read_graph(summary).ends == [(1, 0)]


def test_depth_is_call_depth_and_sinks_sit_right_of_every_caller() -> None:
    # 0 -> 1 -> 2 -> 3 (table), and 0 -> 3 directly; 4 <-> 5 is a cycle nothing enters
    ends = [(0, 1), (1, 2), (2, 3), (0, 3), (4, 5), (5, 4)]
    assert depths(6, ends, first=[0]) == [0, 1, 2, 3, 0, 1]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 60).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=4 * n),
        )
    )
)
def test_layout_never_overlaps_boxes(graph: tuple[int, list[tuple[int, int]]]) -> None:
    count, ends = graph
    plan = layout(count, ends, [], top=100)
    boxes = plan.boxes
    assert len(boxes) == count and len(plan.routes) == len(ends)
    cells = {(box.x, box.y) for box in boxes}
    assert len(cells) == count
    for box in boxes:
        assert box.w == NODE_W and box.h == NODE_H and box.y >= 100
    by_column: dict[float, list[float]] = {}
    for box in boxes:
        by_column.setdefault(box.x, []).append(box.y)
    for ys in by_column.values():
        ys.sort()
        assert all(b - a >= NODE_H for a, b in zip(ys, ys[1:], strict=False))
    for route in plan.routes:  # routed calls cross columns in slots clear of every box
        for x, y in route:
            assert x in by_column
            assert all(
                y - SLOT_H / 2 >= top + NODE_H or y + SLOT_H / 2 <= top for top in by_column[x]
            )


def test_entry_points_sit_just_before_their_first_callee() -> None:
    """api -> fn -> queue -> worker -> table, fn -> table; the worker's own client node
    sits beside the worker, the table right of both its callers."""
    api, fn, queue, worker, table, client = range(6)
    ends = [(api, fn), (fn, queue), (queue, worker), (worker, table), (fn, table), (client, worker)]
    assert depths(6, ends, first=[api, client]) == [0, 1, 2, 3, 4, 2]
    plan = layout(6, ends, [api, client], top=0)
    assert [len(route) for route in plan.routes] == [0, 0, 0, 0, 2, 0]
    assert [x for x, _ in plan.routes[4]] == [plan.boxes[queue].x, plan.boxes[worker].x]


def test_tangled_graphs_fall_back_to_the_fewest_calls_depth() -> None:
    chain = [(i, i + 1) for i in range(29)] + [(0, 29)]
    assert max(depths(30, chain, first=[0])) == 29  # a real chain keeps its length
    tangle = chain + [(0, i) for i in range(2, 29)]
    assert max(depths(30, tangle, first=[0])) == 2


def test_a_big_map_is_well_formed_svg_in_well_under_five_seconds() -> None:
    rng = random.Random(1)
    nodes = [
        {"id": str(i), "name": f"svc-{i}", "type": "AWS::Lambda::Function", "statistics": None}
        for i in range(500)
    ]
    pairs = {(rng.randrange(500), rng.randrange(500)) for _ in range(5200)}
    edges = [
        {
            "source": f"svc-{a}",
            "target": f"svc-{b}",
            "source_id": str(a),
            "target_id": str(b),
            "statistics": None,
        }
        for a, b in sorted(pairs)[:5000]
    ]
    started = time.perf_counter()
    svg = map_svg({"nodes": nodes, "edges": edges})
    assert time.perf_counter() - started < 5
    root = ElementTree.fromstring(svg)
    groups = root.iter(f"{SVG}g")
    classes = [group.get("class") for group in groups]
    assert classes.count("node") == 500 and classes.count("edge") == len(edges)


def test_names_are_escaped() -> None:
    summary = {"nodes": [node('<script>alert("x")</script>', "remote")], "edges": []}
    svg = map_svg(summary)
    assert "<script>" not in svg
    ElementTree.fromstring(svg)


@pytest.mark.parametrize("name", ["esc\x1b[31m", "nul\x00", "lone\ud800"])
def test_characters_xml_cannot_hold_are_shown_as_replacement_characters(name: str) -> None:
    """Valid in X-Ray's JSON, not allowed in XML even escaped: the SVG must still parse."""
    svg = map_svg({"nodes": [node(name, "remote")], "edges": [], "group": name})
    root = ElementTree.fromstring(svg.encode("utf-8"))
    texts = " ".join(text.text or "" for text in root.iter(f"{SVG}text"))
    shown = "".join("\ufffd" if c < " " or "\ud800" <= c <= "\udfff" else c for c in name)
    assert shown in texts


def trace(*documents: dict[str, Any], encode: bool = True) -> dict[str, Any]:
    return {
        "Id": "1-00000000-000000000000000000000000",
        "Segments": [
            {"Id": d["id"], "Document": json.dumps(d) if encode else d} for d in documents
        ],
    }


def test_trace_tree_joins_segments_and_nests_subsegments() -> None:
    data = json.loads((FIXTURES / "batch-get-traces.awsdocs.json").read_text())["Traces"][0]
    tree = read_trace(data)
    assert len(tree.spans) == 11 and [root.name for root in tree.roots] == ["Scorekeep"]
    by_id = {span.id: span for span in tree.spans}
    assert by_id["17ba309b32c7fbaf"].parent is by_id["4cd3f10b76c624b4"]  # inferred DynamoDB
    assert by_id["4cd3f10b76c624b4"].parent is by_id["071684f2e555e571"]  # nested subsegment
    assert by_id["00f91aa01f4984fd"].depth == 3
    assert round(tree.end - tree.start, 3) == data["Duration"]


def test_status_async_and_in_progress() -> None:
    tree = read_trace(
        trace(
            {
                "id": "a",
                "name": "api",
                "start_time": 10.0,
                "end_time": 11.0,
                "subsegments": [
                    {
                        "id": "b",
                        "name": "throttled",
                        "start_time": 10.1,
                        "end_time": 10.2,
                        "http": {"response": {"status": 429}},
                    },
                    {
                        "id": "c",
                        "name": "boom",
                        "start_time": 10.2,
                        "end_time": 10.3,
                        "fault": True,
                    },
                    {"id": "d", "name": "running", "start_time": 10.3, "in_progress": True},
                ],
            },
            {"id": "e", "name": "worker", "start_time": 10.5, "end_time": 12.0, "parent_id": "a"},
        )
    )
    by_id = {span.id: span for span in tree.spans}
    assert [by_id[i].status for i in "abce"] == ["ok", "throttle", "fault", "ok"]
    assert by_id["e"].is_async and not by_id["b"].is_async
    assert by_id["d"].in_progress and by_id["d"].end == 12.0  # drawn to the end of the trace


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"Segments": [{"Document": "{"}]}, "not valid JSON"),
        ({"Segments": [{"Document": "[]"}]}, "not a JSON object"),
        ({"Segments": []}, "has no segments"),
        ({"Id": "x"}, "Segments list"),
        (
            trace(
                {"id": "a", "name": "a", "start_time": 1, "end_time": 2, "parent_id": "b"},
                {"id": "b", "name": "b", "start_time": 1, "end_time": 2, "parent_id": "a"},
            ),
            "cycle",
        ),
        (trace({"id": "a", "name": "a", "end_time": 2}), "no start_time"),
    ],
)
def test_bad_traces_raise_one_line_errors(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(TraceError, match=message):
        read_trace(bad)


def test_flame_accepts_decoded_documents_and_escapes_everything() -> None:
    svg = flame_svg(
        trace(
            {
                "id": "a",
                "name": "<b>&",
                "start_time": 1.0,
                "end_time": 1.5,
                "annotations": {"k": "</title><script>"},
            },
            encode=False,
        )
    )
    root = ElementTree.fromstring(svg)
    bar = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "bar")
    assert bar.get("data-name") == "<b>&"
    title = bar.find(f"{SVG}title")
    assert title is not None and "annotations.k: </title><script>" in (title.text or "")


def test_an_empty_map_still_draws_its_header() -> None:
    root = ElementTree.fromstring(map_svg({"nodes": [], "edges": [], "group": "quiet"}))
    texts = " ".join(text.text or "" for text in root.iter(f"{SVG}text"))
    assert "group quiet" in texts and "0 services, 0 calls" in texts


def test_numbers_read_well() -> None:
    assert [rate_text(v) for v in (0.1, 15, 250, 26648)] == [
        "0.10/min",
        "15.0/min",
        "250/min",
        "26.6k/min",
    ]
    assert [duration_text(v) for v in (0.4, 157, 2035, 90_000, None)] == [
        "0.4 ms",
        "157 ms",
        "2.0 s",
        "1.5 min",
        "n/a",
    ]
