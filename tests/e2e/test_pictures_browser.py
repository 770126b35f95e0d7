"""The pictures as a browser draws them: headless Chromium loads each page, a script measures
what it rendered into the DOM, and the tests check boxes, edges, labels and nesting.

Set LAMBDA_TRACING_DOCS=1 to also write docs/service-map.png and docs/flame.png (from the
fixtures; the README's pictures).
"""

from __future__ import annotations

import html
import json
import os
import random
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from service_map.pictures import flame_html, map_html, map_svg
from service_map.summary import load_pages, summarise

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests/fixtures/xray"
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs headless Chromium at /usr/bin/chromium (Debian package `chromium`)",
    ),
]

# Runs in the page after it has rendered; writes what the browser drew into the DOM as JSON,
# in the SVG's own coordinates.
MEASURE = """<script>
document.body.getBoundingClientRect();  // forces style and layout: the page is rendered
const rendered = performance.now();
const origin = document.querySelector('svg').getBoundingClientRect();
const box = (el) => { const r = el.getBoundingClientRect();
  return {x: r.x - origin.x, y: r.y - origin.y, w: r.width, h: r.height}; };
const point = (path, at) => { const p = path.getPointAtLength(at); return [p.x, p.y]; };
const text = (el) => el ? {text: el.textContent, box: box(el)} : null;
const few = document.querySelectorAll('.edge').length <= 400;
const samples = (path) => { if (!few) return [];
  const length = path.getTotalLength(), points = [];
  for (let at = 0; at <= length; at += 6) points.push(point(path, at));
  return points; };
const out = {
  nodes: [...document.querySelectorAll('.node')].map(g => ({
    name: g.dataset.name, type: g.dataset.type, box: box(g.querySelector('.node-box')),
    lit: g.classList.contains('lit'),
    label: text(g.querySelector('.label')), kind: text(g.querySelector('.kind')),
    title: g.querySelector('title').textContent})),
  edges: [...document.querySelectorAll('.edge')].map(g => { const p = g.querySelector('path');
    return {source: g.dataset.source, target: g.dataset.target, status: g.dataset.status,
      async: g.dataset.async, stroke: p.getAttribute('stroke'), lit: g.classList.contains('lit'),
      dash: p.getAttribute('stroke-dasharray'),
      start: point(p, 0), end: point(p, p.getTotalLength()), samples: samples(p),
      label: text(g.querySelector('.edge-label'))}; }),
  bars: [...document.querySelectorAll('.bar')].map(g => ({
    id: g.dataset.id, parent: g.dataset.parent, name: g.dataset.name, status: g.dataset.status,
    async: g.dataset.async === 'true', early: g.dataset.early === 'true',
    box: box(g.querySelector('rect')),
    dash: g.querySelector('rect').getAttribute('stroke-dasharray'),
    label: text(g.querySelector('text')), title: g.querySelector('title').textContent})),
  header: [...document.querySelectorAll('svg > text')].map(t => t.textContent),
  legend: [...document.querySelectorAll('.legend text')].map(t => t.textContent),
  ms: rendered, measured_ms: performance.now(),
};
const pre = document.createElement('pre'); pre.id = 'measured';
pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
</script>"""


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{time.monotonic_ns()}"
    try:
        return subprocess.run(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def measure(page: str, tmp_path: Path, name: str, before: str = "") -> dict[str, Any]:
    """Load `page` in Chromium and return what the measuring script saw (after running the
    script `before`, if given)."""
    assert page.count("</body>") == 1
    path = tmp_path / f"{name}.html"
    path.write_text(page.replace("</body>", before + MEASURE + "</body>"), encoding="utf-8")
    dom = chromium(tmp_path, "--dump-dom", path.as_uri()).stdout
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert found, "the measuring script did not run"
    return json.loads(html.unescape(found.group(1)))


def screenshot(page: str, tmp_path: Path, name: str, size: str) -> Path:
    source = tmp_path / f"{name}-shot.html"
    source.write_text(page, encoding="utf-8")
    target = tmp_path / f"{name}.png"
    chromium(tmp_path, f"--screenshot={target}", f"--window-size={size}", source.as_uri())
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert target.stat().st_size > 5_000  # a blank page compresses to far less
    if os.environ.get("LAMBDA_TRACING_DOCS") == "1" and name in ("service-map", "flame"):
        shutil.copy(target, ROOT / "docs" / f"{name}.png")
    return target


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


def assert_no_overlaps(boxes: list[dict[str, float]]) -> None:
    ordered = sorted(boxes, key=lambda b: b["x"])
    for i, a in enumerate(ordered):  # sweep: only boxes starting before `a` ends can meet it
        for b in ordered[i + 1 :]:
            if b["x"] >= a["x"] + a["w"]:
                break
            assert not overlaps(a, b), f"boxes overlap: {a} {b}"


def inside(inner: dict[str, float], outer: dict[str, float], slack: float = 0.5) -> bool:
    return (
        inner["x"] >= outer["x"] - slack
        and inner["y"] >= outer["y"] - slack
        and inner["x"] + inner["w"] <= outer["x"] + outer["w"] + slack
        and inner["y"] + inner["h"] <= outer["y"] + outer["h"] + slack
    )


def summary_of(fixture: str) -> dict[str, Any]:
    return summarise(load_pages(json.loads((FIXTURES / fixture).read_text())))


def check_map(summary: dict[str, Any], seen: dict[str, Any]) -> None:
    expected_nodes = sorted((node["name"], node["type"]) for node in summary["nodes"])
    assert sorted((node["name"], node["type"]) for node in seen["nodes"]) == expected_nodes
    expected_edges = sorted((edge["source"], edge["target"]) for edge in summary["edges"])
    assert sorted((edge["source"], edge["target"]) for edge in seen["edges"]) == expected_edges
    assert_no_overlaps([node["box"] for node in seen["nodes"]])
    for node in seen["nodes"]:
        label = node["label"]["text"]
        assert label, node
        head = label.split("…")[0]
        assert head and head in node["name"], (label, node["name"])
        assert inside(node["label"]["box"], node["box"]), node
        assert inside(node["kind"]["box"], node["box"]), node
        assert node["name"] in node["title"]
    by_name: dict[str, list[dict[str, float]]] = {}
    for node in seen["nodes"]:
        by_name.setdefault(node["name"], []).append(node["box"])
    for edge in seen["edges"]:
        # each curve leaves a box of its source and arrives at a box of its target
        assert any(touches(edge["start"], b) for b in by_name[edge["source"]]), edge
        assert any(touches(edge["end"], b) for b in by_name[edge["target"]]), edge
        assert edge["label"] and "/min" in edge["label"]["text"], edge
        # the curve runs between the boxes, never behind a service it does not touch
        others = [
            node["box"]
            for node in seen["nodes"]
            if node["name"] not in (edge["source"], edge["target"])
        ]
        assert edge["samples"]
        for x, y in edge["samples"]:
            assert not any(
                b["x"] + 2 < x < b["x"] + b["w"] - 2 and b["y"] + 2 < y < b["y"] + b["h"] - 2
                for b in others
            ), (edge["source"], edge["target"], x, y)
        # and so does its label
        assert not any(overlaps(edge["label"]["box"], b) for b in others), edge
    assert [item for item in seen["legend"] if item] == [
        "ok",
        "error (4xx)",
        "throttle (429)",
        "fault (5xx)",
        "async",
    ]
    window = summary["window"]
    assert any(window["start"] in line and window["end"] in line for line in seen["header"])


def touches(point: list[float], box: dict[str, float]) -> bool:
    x, y = point
    on_side = abs(x - box["x"]) < 1 or abs(x - (box["x"] + box["w"])) < 1
    return on_side and box["y"] <= y <= box["y"] + box["h"]


def test_map_of_the_awsdocs_graph(tmp_path: Path) -> None:
    summary = summary_of("get-service-graph.awsdocs.json")
    seen = measure(map_html(summary), tmp_path, "awsdocs")
    check_map(summary, seen)
    boxes = {node["type"]: node["box"] for node in seen["nodes"]}
    # left to right by call depth: client, then the instance, then what it calls
    assert boxes["client"]["x"] < boxes["AWS::EC2::Instance"]["x"] < boxes["AWS::SNS"]["x"]
    assert boxes["AWS::SNS"]["x"] == boxes["AWS::DynamoDB::Table"]["x"]
    colours = {(e["source"], e["target"]): (e["status"], e["stroke"]) for e in seen["edges"]}
    name = "xray-sample.elasticbeanstalk.com"
    assert colours[(name, name)] == ("error", "#e0b000")  # one 4xx among four calls: yellow
    assert colours[(name, "SNS")] == ("ok", "#3a9d4a")
    screenshot(map_html(summary), tmp_path, "service-map-awsdocs", "1200,420")


def test_map_of_the_lambda_and_sqs_graph(tmp_path: Path) -> None:
    summary = summary_of("get-service-graph.lambda-sqs.grafana.json")
    page = map_html(summary)
    seen = measure(page, tmp_path, "lambda-sqs")
    check_map(summary, seen)
    kinds = {node["type"]: node["kind"]["text"] for node in seen["nodes"]}
    assert kinds["AWS::Lambda"] == "Lambda service"
    assert kinds["AWS::Lambda::Function"] == "Lambda function"
    assert kinds["AWS::SQS::Queue"] == "SQS queue"
    assert kinds["client"] == "client"
    boxes = {node["type"]: node["box"] for node in seen["nodes"]}
    order = [
        "client",
        "AWS::ElasticBeanstalk::Environment",
        "AWS::SQS::Queue",
        "AWS::Lambda",
        "AWS::Lambda::Function",
    ]
    assert [boxes[kind]["x"] for kind in order] == sorted(boxes[kind]["x"] for kind in order)
    screenshot(page, tmp_path, "service-map", "1880,330")


def test_hovering_a_service_lights_its_calls(tmp_path: Path) -> None:
    summary = summary_of("get-service-graph.awsdocs.json")
    hover = """<script>
    document.querySelector('.node[data-type="AWS::DynamoDB::Table"] rect')
      .dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
    </script>"""
    seen = measure(map_html(summary), tmp_path, "hover", before=hover)
    lit_nodes = sorted(node["type"] for node in seen["nodes"] if node["lit"])
    assert lit_nodes == ["AWS::DynamoDB::Table", "AWS::EC2::Instance"]
    lit_edges = [(edge["source"], edge["target"]) for edge in seen["edges"] if edge["lit"]]
    assert lit_edges == [
        (
            "xray-sample.elasticbeanstalk.com",
            "awseb-e-dixzws4s9p-stack-StartupSignupsTable-4IMSMHAYX2BA",
        )
    ]


def test_a_demo_shaped_map_routes_long_calls_between_boxes(tmp_path: Path) -> None:
    """API -> orders -> queue -> worker -> payments, with orders and the worker both writing
    the table and calling the payment service: calls that skip columns go round the boxes."""

    def stats(requests: int, faults: int = 0, throttles: int = 0) -> dict[str, Any]:
        ok = requests - faults - throttles
        return {
            "requests": requests,
            "ok": ok,
            "errors": 0,
            "throttles": throttles,
            "faults": faults,
            "requests_per_minute": requests / 5.0,
            "ok_rate": ok / requests,
            "error_rate": 0.0,
            "throttle_rate": throttles / requests,
            "fault_rate": faults / requests,
            "mean_ms": 40.0,
            "p50_ms": 30.0,
            "p90_ms": 80.0,
            "p95_ms": 90.0,
            "p99_ms": 120.0,
        }

    services = [
        ("client", "api"),
        ("AWS::ApiGateway::Stage", "api"),
        ("AWS::Lambda", "orders"),
        ("AWS::Lambda::Function", "orders"),
        ("AWS::SQS::Queue", "queue"),
        ("AWS::Lambda", "worker"),
        ("AWS::Lambda::Function", "worker"),
        ("AWS::DynamoDB::Table", "orders-table"),
        ("remote", "payments"),
        ("AWS::SNS", "notices"),
    ]
    nodes = [
        {
            "id": f"{kind}/{name}",
            "name": name,
            "type": kind,
            "root": False,
            "client": kind == "client",
            "statistics": None if kind == "client" else stats(100),
            "health": "ok",
        }
        for kind, name in services
    ]
    calls = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (3, 7), (6, 7), (6, 8), (3, 9)]
    edges = [
        {
            "source": services[a][1],
            "target": services[b][1],
            "source_id": nodes[a]["id"],
            "target_id": nodes[b]["id"],
            "async": (a, b) == (4, 5),
            "statistics": stats(100, faults=3 if b == 8 else 0, throttles=5 if b == 8 else 0),
            "health": "ok",
            "event_age_p50_ms": None,
            "event_age_p99_ms": None,
        }
        for a, b in calls
    ]
    summary = {
        "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:05:00Z", "seconds": 300},
        "group": "Default",
        "complete": True,
        "contains_old_group_versions": False,
        "nodes": nodes,
        "edges": edges,
        "changes": {},
        "top": {},
    }
    page = map_html(summary)
    check_map(summary, measure(page, tmp_path, "demo-shaped"))
    shot = screenshot(page, tmp_path, "service-map-demo-shaped", "2860,420")
    if os.environ.get("LAMBDA_TRACING_KEEP"):
        shutil.copy(shot, os.environ["LAMBDA_TRACING_KEEP"])


def test_standalone_svg_draws_the_same_map(tmp_path: Path) -> None:
    summary = summary_of("get-service-graph.lambda-sqs.grafana.json")
    svg = map_svg(summary)
    assert svg.startswith("<svg") and "<html" not in svg
    seen = measure(
        f"<!DOCTYPE html><html><body style='margin:0'>{svg}</body></html>", tmp_path, "standalone"
    )
    check_map(summary, seen)


def test_async_calls_are_dashed(tmp_path: Path) -> None:
    summary = summary_of("get-service-graph.lambda-sqs.grafana.json")
    for edge in summary["edges"]:
        if edge["target"] == "ProcessSQSRecord" and "sqs" in edge["source"]:
            edge["async"] = True  # the fixture's queue poll, as X-Ray marks it with EdgeType link
            edge["event_age_p99_ms"] = 1200.0
    seen = measure(map_html(summary), tmp_path, "async")
    dashed = [edge for edge in seen["edges"] if edge["async"] == "true"]
    assert len(dashed) == 1 and dashed[0]["dash"]
    assert all(not edge["dash"] for edge in seen["edges"] if edge["async"] == "false")


def trace_of(fixture: str) -> dict[str, Any]:
    trace: dict[str, Any] = json.loads((FIXTURES / fixture).read_text())["Traces"][0]
    return trace


def documents(trace: dict[str, Any]) -> list[dict[str, Any]]:
    """Every segment and subsegment document of a trace, counted independently of the code."""
    found = []
    stack = [
        s["Document"] if isinstance(s["Document"], dict) else json.loads(s["Document"])
        for s in trace["Segments"]
    ]
    while stack:
        doc = stack.pop()
        found.append(doc)
        stack.extend(doc.get("subsegments", []))
    return found


def check_flame(trace: dict[str, Any], seen: dict[str, Any]) -> dict[str, dict[str, Any]]:
    docs = documents(trace)
    assert sorted(bar["id"] for bar in seen["bars"]) == sorted(doc["id"] for doc in docs)
    bars = {bar["id"]: bar for bar in seen["bars"]}
    for bar in seen["bars"]:
        assert bar["name"] in bar["title"]
        if bar["label"]:
            assert inside(bar["label"]["box"], bar["box"], slack=1), bar
        parent = bars.get(bar["parent"])
        if parent is None:
            continue
        outer, inner = parent["box"], bar["box"]
        assert inner["y"] >= outer["y"] + outer["h"], bar  # a row below its parent
        starts_inside = inner["x"] >= outer["x"] - 0.5
        ends_inside = inner["x"] + inner["w"] <= outer["x"] + outer["w"] + 0.5
        # nested in its parent, or drawn dashed as the async hop / early start it is
        assert starts_inside or (bar["early"] and bar["dash"]), bar
        assert ends_inside or (bar["async"] and bar["dash"]), bar
        assert bar["async"] == (not ends_inside) and bar["early"] == (not starts_inside), bar
    assert_no_overlaps([bar["box"] for bar in seen["bars"]])
    labelled = [bar for bar in seen["bars"] if bar["label"]]
    assert labelled and all(bar["label"]["text"].startswith(bar["name"][:3]) for bar in labelled)
    return bars


def test_flame_of_the_decoded_grafana_trace(tmp_path: Path) -> None:
    trace = trace_of("trace.decoded.grafana.json")
    page = flame_html(trace)
    seen = measure(page, tmp_path, "flame-grafana")
    bars = check_flame(trace, seen)
    assert bars["4ab39ad12cff04b5"]["status"] == "error"  # DynamoDB answered 400
    assert bars["3f8b028e1847bc4c"]["status"] == "fault"
    assert bars["eebec87ce4dd8225"]["status"] == "ok"
    title = bars["4ab39ad12cff04b5"]["title"]
    assert "The conditional request failed" in title and "aws.region: us-east-2" in title
    assert "annotations.theme: flatly" in bars["eebec87ce4dd8225"]["title"]
    assert bars["eebec87ce4dd8225"]["label"]["text"] == "myfrontend-dev 48 ms"
    screenshot(page, tmp_path, "flame-grafana", "1240,200")


def test_flame_of_the_awsdocs_trace(tmp_path: Path) -> None:
    trace = trace_of("batch-get-traces.awsdocs.json")
    page = flame_html(trace)
    seen = measure(page, tmp_path, "flame-awsdocs")
    bars = check_flame(trace, seen)
    # The Lambda call, the Lambda service segment, its function segment and the SNS publish
    # sit one depth below another.
    chain = ["0c544c1b1bbff948", "1fb07842d944e714", "00f91aa01f4984fd", "b29b548af4d54a0f"]
    tops = [bars[ident]["box"]["y"] for ident in chain]
    assert tops == sorted(tops) and len(set(tops)) == 4
    assert "UserID: 5M388M1E" in bars["e6d2fe619f827804"]["title"]
    assert not any(bar["async"] for bar in seen["bars"])
    # Lambda's Initialization runs before the function segment it belongs to
    assert [bar["id"] for bar in seen["bars"] if bar["early"]] == ["2279c0030c955e52"]
    screenshot(page, tmp_path, "flame", "1240,300")


def test_flame_draws_async_hops_distinctly(tmp_path: Path) -> None:
    trace = trace_of("batch-get-traces.awsdocs.json")
    for segment in trace["Segments"]:
        doc = json.loads(segment["Document"])
        if doc["id"] == "1ee3c4a523f89ca5":  # the SNS topic delivers after Publish returned
            doc["end_time"] += 0.4
            segment["Document"] = json.dumps(doc)
    seen = measure(flame_html(trace), tmp_path, "flame-async")
    bars = check_flame(trace, seen)
    hop = bars["1ee3c4a523f89ca5"]
    assert hop["async"] and hop["dash"]
    parent = bars[hop["parent"]]["box"]
    assert hop["box"]["x"] + hop["box"]["w"] > parent["x"] + parent["w"] + 10
    assert [bar["id"] for bar in seen["bars"] if bar["async"]] == ["1ee3c4a523f89ca5"]


def big_summary(services: int = 500, calls: int = 5000, seed: int = 5) -> dict[str, Any]:
    """A map shaped like a large estate: tiers of services, mostly calling deeper tiers,
    some calling back up or sideways (cycles)."""
    rng = random.Random(seed)
    tiers = [i * 7 // services for i in range(services)]
    kinds = ["AWS::Lambda::Function", "AWS::DynamoDB::Table", "AWS::SQS::Queue", "remote"]

    def stats(requests: int) -> dict[str, Any]:
        faults = rng.randrange(0, 3)
        return {
            "requests": requests,
            "ok": requests - faults,
            "errors": 0,
            "throttles": 0,
            "faults": faults,
            "requests_per_minute": requests / 5,
            "ok_rate": 1.0,
            "error_rate": 0.0,
            "throttle_rate": 0.0,
            "fault_rate": faults / requests,
            "mean_ms": 20.0,
            "p50_ms": 15.0,
            "p90_ms": 40.0,
            "p95_ms": 60.0,
            "p99_ms": 90.0,
        }

    nodes = [
        {
            "id": f"n{i}",
            "name": f"service-{i:03d}",
            "names": [f"service-{i:03d}"],
            "type": rng.choice(kinds),
            "account_id": None,
            "root": tiers[i] == 0,
            "client": False,
            "statistics": stats(100),
            "health": "ok",
        }
        for i in range(services)
    ]
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < calls:
        a, b = rng.randrange(services), rng.randrange(services)
        if a != b and (tiers[b] > tiers[a] or rng.random() < 0.03):
            pairs.add((a, b))
    edges = [
        {
            "id": f"n{a} -> n{b}",
            "source": f"service-{a:03d}",
            "target": f"service-{b:03d}",
            "source_id": f"n{a}",
            "target_id": f"n{b}",
            "async": False,
            "statistics": stats(10),
            "health": "ok",
            "event_age_p50_ms": None,
            "event_age_p99_ms": None,
        }
        for a, b in sorted(pairs)
    ]
    return {
        "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:05:00Z", "seconds": 300},
        "group": "Default",
        "complete": True,
        "contains_old_group_versions": False,
        "nodes": nodes,
        "edges": edges,
        "changes": {},
        "top": {},
    }


def test_a_500_service_5000_call_map_renders_quickly_without_overlaps(tmp_path: Path) -> None:
    summary = big_summary()
    started = time.perf_counter()
    page = map_html(summary)
    python_s = time.perf_counter() - started
    seen = measure(page, tmp_path, "big")
    print(
        f"\n500 nodes / 5,000 edges: HTML in {python_s:.2f} s, browser laid it out by "
        f"{seen['ms'] / 1000:.2f} s after navigation (measured by "
        f"{seen['measured_ms'] / 1000:.2f} s), {len(page):,} bytes"
    )
    assert python_s + seen["ms"] / 1000 < 5.0
    assert len(seen["nodes"]) == 500 and len(seen["edges"]) == 5000
    assert_no_overlaps([node["box"] for node in seen["nodes"]])
