"""The service map as a standalone SVG: services left to right by call depth, calls as curves."""

from __future__ import annotations

from typing import Any

from service_map.pictures import icons
from service_map.pictures.map_layout import NODE_W, Box, MapLayout, layout
from service_map.pictures.map_model import MapGraph, read_graph
from service_map.pictures.palette import (
    LEGEND,
    NEUTRAL,
    STATUS_COLOURS,
    status_shares,
    worst_status,
)
from service_map.pictures.text import (
    FONT_FAMILY,
    duration_text,
    esc,
    fit,
    percent_text,
    rate_text,
    text_width,
)

HEADER_H = 100
EDGE_LABEL_LIMIT = 400  # beyond this many edges, numbers move to hover only, to stay readable
HEALTH_STROKE = {"ok": "#9aa5b1", "degraded": "#e0b000", "failing": "#d13a32"}

_STYLE = f"""
svg.service-map {{ font-family: {FONT_FAMILY}; background: #fbfcfd; }}
.service-map .node-box {{ fill: #fff; stroke-width: 1.5; }}
.service-map .node:hover .node-box {{ stroke-width: 3; }}
.service-map .label {{ font-size: 13px; font-weight: bold; fill: #16191f; }}
.service-map .kind, .service-map .stats {{ font-size: 11px; fill: #545b64; }}
.service-map .edge path.line {{ fill: none; stroke-width: 1.6; opacity: 0.85; }}
.service-map .edge:hover path.line {{ stroke-width: 3.5; opacity: 1; }}
.service-map.dense .edge path.line {{ stroke-width: 1; opacity: 0.35; }}
.service-map .edge-label {{ font-size: 10.5px; fill: #16191f; paint-order: stroke;
  stroke: #fbfcfd; stroke-width: 3px; }}
.service-map .title {{ font-size: 16px; font-weight: bold; fill: #16191f; }}
.service-map .subtitle, .service-map .legend text {{ font-size: 12px; fill: #545b64; }}
.service-map .warning {{ font-size: 12px; fill: #d13a32; font-weight: bold; }}
.service-map .note {{ font-size: 12px; fill: #545b64; font-style: italic; }}
"""


def _stats_lines(statistics: dict[str, Any] | None, missing: str = "no statistics") -> list[str]:
    if not statistics:
        return [missing]
    get = statistics.get
    times = ", ".join(
        f"{label} {duration_text(get(key))}"
        for label, key in (
            ("mean", "mean_ms"),
            ("p50", "p50_ms"),
            ("p90", "p90_ms"),
            ("p95", "p95_ms"),
            ("p99", "p99_ms"),
        )
    )
    return [
        f"requests: {get('requests', 0)} ({rate_text(get('requests_per_minute'))})",
        f"ok {get('ok', 0)}, errors {get('errors', 0)}, "
        f"throttles {get('throttles', 0)}, faults {get('faults', 0)}",
        f"error {percent_text(get('error_rate'))}, throttle {percent_text(get('throttle_rate'))}, "
        f"fault {percent_text(get('fault_rate'))}",
        times,
    ]


def short_name(name: str, node_type: str | None = None) -> str:
    """The readable tail of long names: queue URLs and ARNs end in the resource's own name."""
    is_queue_url = (node_type or "").startswith("AWS::SQS") and "://" in name
    if is_queue_url or name.startswith(("https://sqs.", "arn:")):
        return name.replace(":", "/").rstrip("/").rsplit("/", 1)[-1]
    return name


def _node_svg(index: int, node: dict[str, Any], box: Box) -> str:
    name = str(node.get("name", ""))
    statistics = node.get("statistics")
    health = node.get("health") or "ok"
    stroke = HEALTH_STROKE.get(health, NEUTRAL) if statistics else NEUTRAL
    text_x = 44
    room = box.w - text_x - 8
    label = short_name(name, node.get("type"))
    summary = ""
    if statistics and statistics.get("requests"):
        summary = f"{rate_text(statistics.get('requests_per_minute'))} · p99 " + duration_text(
            statistics.get("p99_ms")
        )
    title = "\n".join(
        [name, f"type: {node.get('type')}", f"account: {node.get('account_id') or '-'}"]
        + ([f"health: {health}"] if statistics else [])
        + (["root"] if node.get("root") else [])
        + _stats_lines(statistics, "no statistics of its own: its numbers are on its calls")
    )
    bar = []
    left = 0.0
    for status, share in status_shares(statistics):
        width = share * (box.w - 2)
        bar.append(
            f'<rect x="{1 + left:.2f}" y="{box.h - 6}" width="{width:.2f}" height="5" '
            f'fill="{STATUS_COLOURS[status]}"/>'
        )
        left += width
    return (
        f'<g class="node" data-index="{index}" data-name="{esc(name)}" '
        f'data-type="{esc(node.get("type") or "")}" '
        f'data-health="{esc(health if statistics else "none")}" '
        f'transform="translate({box.x:g},{box.y:g})">'
        f"<title>{esc(title)}</title>"
        f'<rect class="node-box" width="{box.w}" height="{box.h}" rx="7" stroke="{stroke}"/>'
        f"{icons.icon(node.get('type'), 8, 9)}"
        f'<text class="label" x="{text_x}" y="20">{esc(fit(label, room, 13))}</text>'
        f'<text class="kind" x="{text_x}" y="35">'
        f"{esc(fit(icons.caption(node.get('type')), room, 11))}</text>"
        f'<text class="stats" x="{text_x}" y="50">{esc(fit(summary, room, 11))}</text>'
        f"{''.join(bar)}</g>"
    )


def _curve(x0: float, y0: float, x3: float, y3: float) -> str:
    """A cubic leaving and arriving horizontally."""
    bend = max(60.0, abs(x3 - x0) / 2) * (1 if x3 >= x0 else -1)
    return f"C{x0 + bend:.1f},{y0:.1f} {x3 - bend:.1f},{y3:.1f} {x3:.1f},{y3:.1f}"


def _edge_geometry(
    source: Box, target: Box, slots: list[tuple[float, float]]
) -> tuple[str, float, float]:
    """The path of a call, and where its label goes.

    Calls to the right leave the caller's right side and enter the callee's left side,
    running through their slots in the columns between; calls within a column loop out to
    the right; calls back to the left (cycles) run the other way round."""
    y0, y3 = source.y + source.h / 2, target.y + target.h / 2
    if target.x > source.x:
        x, y = source.x + source.w, y0
        path = [f"M{x:.1f},{y:.1f}"]
        for slot_x, slot_y in slots:
            path += [_curve(x, y, slot_x, slot_y), f"H{slot_x + NODE_W:.1f}"]
            x, y = slot_x + NODE_W, slot_y
        path.append(_curve(x, y, target.x, y3))
        if slots:  # label the first straight run: it lies between boxes
            return " ".join(path), slots[0][0] + NODE_W / 2, slots[0][1]
        return " ".join(path), (source.x + source.w + target.x) / 2, (y0 + y3) / 2
    if target.x == source.x:
        x0 = source.x + source.w
        bend = 40.0 + min(abs(y3 - y0) / 4, 60.0)
        path_text = (
            f"M{x0:.1f},{y0:.1f} C{x0 + bend:.1f},{y0:.1f} {x0 + bend:.1f},{y3:.1f} "
            f"{x0:.1f},{y3:.1f}"
        )
        return path_text, x0 + bend * 0.75, (y0 + y3) / 2
    x0, x3 = source.x, target.x + target.w
    return f"M{x0:.1f},{y0:.1f} {_curve(x0, y0, x3, y3)}", (x0 + x3) / 2, (y0 + y3) / 2


def _edge_svg(
    edge: dict[str, Any],
    ends: tuple[int, int],
    plan: MapLayout,
    index: int,
    names: tuple[str, str],
    labelled: bool,
) -> str:
    source, target = plan.boxes[ends[0]], plan.boxes[ends[1]]
    statistics = edge.get("statistics")
    status = worst_status(statistics)
    colour = STATUS_COLOURS[status]
    is_async = bool(edge.get("async"))
    path, mid_x, mid_y = _edge_geometry(source, target, plan.routes[index])
    title_lines = [f"{names[0]} → {names[1]}" + (" (async)" if is_async else "")]
    if is_async:
        title_lines.append(
            f"event age p50 {duration_text(edge.get('event_age_p50_ms'))}, "
            f"p99 {duration_text(edge.get('event_age_p99_ms'))}"
        )
    title_lines += [f"health: {edge.get('health') or 'n/a'}"] + _stats_lines(statistics)
    label = ""
    if labelled and statistics:
        text = rate_text(statistics.get("requests_per_minute"))
        p99 = edge.get("event_age_p99_ms") if is_async else statistics.get("p99_ms")
        if p99 is not None:
            text += (" · age p99 " if is_async else " · p99 ") + duration_text(p99)
        label = (
            f'<text class="edge-label" x="{mid_x:.1f}" y="{mid_y - 4:.1f}" '
            f'text-anchor="middle">{esc(text)}</text>'
        )
    dash = ' stroke-dasharray="7 5"' if is_async else ""
    return (
        f'<g class="edge" data-source="{esc(names[0])}" data-target="{esc(names[1])}" '
        f'data-status="{status}" data-async="{str(is_async).lower()}" '
        f'data-ends="{ends[0]} {ends[1]}">'
        f"<title>{esc(chr(10).join(title_lines))}</title>"
        f'<path class="line" d="{path}" stroke="{colour}"{dash} '
        f'marker-end="url(#arrow-{status})"/>{label}</g>'
    )


def _header(summary: dict[str, Any], graph: MapGraph) -> str:
    window = summary.get("window") or {}
    group = summary.get("group") or "Default"
    seconds = window.get("seconds")
    span = f" ({duration_text(seconds * 1000)})" if isinstance(seconds, int | float) else ""
    subtitle = (
        f"group {group} · {window.get('start', '?')} → {window.get('end', '?')}{span} · "
        f"{len(graph.nodes)} services, {len(graph.edges)} calls"
    )
    parts = [
        '<text class="title" x="24" y="28">Service map</text>',
        f'<text class="subtitle window" x="24" y="48">{esc(subtitle)}</text>',
    ]
    warnings, notes = [], []
    if summary.get("complete") is False:
        warnings.append("incomplete: some pages could not be read")
    if summary.get("contains_old_group_versions"):
        warnings.append("includes data from older versions of the group's filter")
    if len(graph.edges) > EDGE_LABEL_LIMIT:
        notes.append(f"{len(graph.edges)} calls: hover a call for its numbers")
    x = 24.0
    for css, items in (("warning", warnings), ("note", notes)):
        if items:
            line = " · ".join(items)
            parts.append(f'<text class="{css}" x="{x:g}" y="{HEADER_H - 28}">{esc(line)}</text>')
            x += text_width(line, 12) + 16
    items = [f'<g class="legend" transform="translate(24,{HEADER_H - 8})">']
    x = 0.0
    for label, colour in LEGEND:
        items.append(
            f'<line x1="{x:g}" y1="-4" x2="{x + 22:g}" y2="-4" stroke="{colour}" '
            f'stroke-width="3"/><text x="{x + 27:g}" y="0">{esc(label)}</text>'
        )
        x += 40 + text_width(label, 12)
    items.append(
        f'<line x1="{x:g}" y1="-4" x2="{x + 22:g}" y2="-4" stroke="{NEUTRAL}" stroke-width="2" '
        f'stroke-dasharray="7 5"/><text x="{x + 27:g}" y="0">async</text></g>'
    )
    return "".join(parts + items)


def _markers() -> str:
    return "".join(
        f'<marker id="arrow-{status}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        f'fill="{colour}"/></marker>'
        for status, colour in STATUS_COLOURS.items()
    )


def map_svg(summary: dict[str, Any]) -> str:
    """The service map of a summary as a standalone SVG document."""
    graph = read_graph(summary)
    first = [i for i, node in enumerate(graph.nodes) if node.get("type") == "client"]
    first += [i for i, node in enumerate(graph.nodes) if node.get("root")]
    labelled = len(graph.edges) <= EDGE_LABEL_LIMIT
    plan = layout(len(graph.nodes), graph.ends, first, top=HEADER_H + 16, route=labelled)
    boxes = plan.boxes
    width = max([box.x + box.w for box in boxes] + [700.0]) + 40
    height = max([box.y + box.h for box in boxes] + [HEADER_H + 40.0]) + 30
    dense = "" if labelled else " dense"
    edges = []
    for index, (edge, ends) in enumerate(zip(graph.edges, graph.ends, strict=True)):
        names = (str(graph.nodes[ends[0]]["name"]), str(graph.nodes[ends[1]]["name"]))
        edges.append(_edge_svg(edge, ends, plan, index, names, labelled))
    nodes = [
        _node_svg(i, node, box)
        for i, (node, box) in enumerate(zip(graph.nodes, boxes, strict=True))
    ]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="service-map{dense}" width="{width:g}" '
        f'height="{height:g}" viewBox="0 0 {width:g} {height:g}">'
        f"<style>{_STYLE}</style><defs>{_markers()}</defs>"
        f'<rect width="100%" height="100%" fill="#fbfcfd"/>'
        f"{_header(summary, graph)}"
        f'<g class="edges">{"".join(edges)}</g><g class="nodes">{"".join(nodes)}</g></svg>'
    )
