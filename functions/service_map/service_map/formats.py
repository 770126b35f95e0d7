"""The summary as JSON, as a table for a terminal, and as a Mermaid flowchart."""

from __future__ import annotations

import json

LISTED_CHANGES = 10  # per kind in the table; the JSON has them all
HEALTH_STYLES = {
    "ok": "fill:#e8f5e9,stroke:#2e7d32",
    "degraded": "fill:#fff8e1,stroke:#f9a825",
    "failing": "fill:#ffebee,stroke:#c62828",
}


def to_json(summary: dict) -> str:
    """The summary as indented JSON text ending in a newline (what S3 and the CLI get)."""
    return json.dumps(summary, indent=2, ensure_ascii=False) + "\n"


def to_table(summary: dict, width: int = 80) -> str:
    """A plain-text report fitting ``width`` columns: header, nodes, edges, top, changes."""
    window = summary["window"]
    lines = [
        _clip(f"Service map of group {summary['group']}", width),
        _clip(f"{window['start']} .. {window['end']} ({window['seconds']} s)", width),
    ]
    if not summary["complete"]:
        lines.append(_clip("INCOMPLETE: reading the graph failed part way", width))
    if summary["contains_old_group_versions"]:
        lines.append(_clip("note: the group's filter changed inside the window", width))
    numbers = [("REQS", 7), ("4XX%", 5), ("5XX%", 5), ("P50ms", 7), ("P99ms", 7), ("HEALTH", 8)]
    node_rows = [
        [node["name"], _short_type(node["type"]), *_figures(node["statistics"]), node["health"]]
        for node in summary["nodes"]
    ]
    lines += ["", *_table([("NODE", 0), ("TYPE", 14), *numbers], node_rows, width)]
    clients = {node["id"] for node in summary["nodes"] if node["client"]}
    edge_rows = [
        [
            f"{edge['source']}{' (client)' if edge['source_id'] in clients else ''}"
            f" {'~>' if edge['async'] else '->'} {edge['target']}",
            *_figures(edge["statistics"]),
            edge["health"],
        ]
        for edge in summary["edges"]
    ]
    lines += ["", *_table([("EDGE (~> async)", 0), *numbers], edge_rows, width)]
    top = summary["top"]
    if top["slowest_edges"]:
        lines += ["", "Slowest edges (p99):"]
        lines += [
            _clip(f"  {_ms(e['p99_ms']):>8} ms  {e['source']} -> {e['target']}", width)
            for e in top["slowest_edges"]
        ]
    if top["most_failing_nodes"]:
        lines += ["", "Most failing nodes:"]
        lines += [
            _clip(
                f"  5xx {_pct(n['fault_rate'])}%  4xx {_pct(n['error_rate'] + n['throttle_rate'])}%"
                f"  {n['name']} ({_short_type(n['type'])})",
                width,
            )
            for n in top["most_failing_nodes"]
        ]
    lines += _change_lines(summary["changes"], width)
    return "\n".join(line.rstrip() for line in lines) + "\n"


def to_mermaid(summary: dict) -> str:
    """A Mermaid flowchart: one box per node (clients rounded), one arrow per edge (dotted
    when asynchronous) labelled with requests, failures and p99, coloured by health."""
    ids = {node["id"]: f"n{index}" for index, node in enumerate(summary["nodes"])}
    lines = ["flowchart LR"]
    for node in summary["nodes"]:
        label = _mermaid_text(f"{node['name']}<br/>{_short_type(node['type'])}", keep_break=True)
        opening, closing = ('(["', '"])') if node["client"] else ('["', '"]')
        lines.append(f"  {ids[node['id']]}{opening}{label}{closing}")
    for edge in summary["edges"]:
        stats = edge["statistics"]
        parts = [f"{stats['requests']} req"]
        if stats["faults"]:
            parts.append(f"{_pct(stats['fault_rate'])}% 5xx")
        if stats["errors"] + stats["throttles"]:
            parts.append(f"{_pct(stats['error_rate'] + stats['throttle_rate'])}% 4xx")
        if stats["p99_ms"] is not None:
            parts.append(f"p99 {_ms(stats['p99_ms'])} ms")
        if edge["event_age_p99_ms"] is not None:
            parts.append(f"age p99 {_ms(edge['event_age_p99_ms'])} ms")
        arrow = "-.->" if edge["async"] else "-->"
        label = _mermaid_text(", ".join(parts))
        lines.append(f'  {ids[edge["source_id"]]} {arrow}|"{label}"| {ids[edge["target_id"]]}')
    for health, style in HEALTH_STYLES.items():
        members = [ids[n["id"]] for n in summary["nodes"] if n["health"] == health]
        if members:
            lines.append(f"  classDef {health} {style}")
            lines.append(f"  class {','.join(members)} {health}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str, keep_break: bool = False) -> str:
    # Mermaid reads #name; as an entity: escape '#' first, then what would end the label.
    text = text.replace("#", "#35;").replace('"', "#quot;")
    if keep_break:
        text = text.replace("<br/>", "\0")
    text = text.replace("<", "#lt;").replace(">", "#gt;")
    return text.replace("\0", "<br/>")


def _figures(stats: dict | None) -> list[str]:
    if stats is None:
        return ["-"] * 5
    return [
        str(stats["requests"]),
        _pct(stats["error_rate"] + stats["throttle_rate"]),
        _pct(stats["fault_rate"]),
        _ms(stats["p50_ms"]),
        _ms(stats["p99_ms"]),
    ]


def _table(columns: list[tuple[str, int]], rows: list[list], width: int) -> list[str]:
    # Size 0 marks the one column that takes what the fixed ones leave (never under 10);
    # names and words are left-aligned, figures right-aligned.
    fixed = sum(size for _, size in columns) + len(columns) - 1
    flexible = max(10, width - fixed)
    sizes = [size or flexible for _, size in columns]
    words = {0, len(columns) - 1} | {i for i, (title, _) in enumerate(columns) if title == "TYPE"}
    out = []
    for row in [[title for title, _ in columns], *rows]:
        cells = []
        for index, (cell, size) in enumerate(zip(row, sizes, strict=True)):
            text = "-" if cell is None else str(cell)
            if index == 0 and len(text) > size:  # a long name gets a line of its own
                out.append(_clip(text, width))
                text = ""
            text = _clip(text, size)
            cells.append(text.ljust(size) if index in words else text.rjust(size))
        out.append(" ".join(cells))
    return out


def _change_lines(changes: dict, width: int) -> list[str]:
    if changes["against"] is None:
        return []
    against = changes["against"]
    lines = ["", _clip(f"Changes since {against['start']} .. {against['end']}:", width)]
    for title, key in (
        ("added node", "nodes_added"),
        ("gone node", "nodes_gone"),
        ("added edge", "edges_added"),
        ("gone edge", "edges_gone"),
    ):
        items = changes[key]
        lines += [_clip(f"  {title}: {item}", width) for item in items[:LISTED_CHANGES]]
        if len(items) > LISTED_CHANGES:
            lines.append(f"  ... and {len(items) - LISTED_CHANGES} more {title}s")
    for item in changes["regressions"]:
        before, after = item["before"], item["after"]
        if item["metric"] == "fault_rate":
            change = f"5xx {_pct(before)}% -> {_pct(after)}%"
        else:
            change = f"p99 {_ms(before)} -> {_ms(after)} ms"
        lines.append(_clip(f"  worse {item['kind']}: {change}  {item['id']}", width))
    if len(lines) == 2:
        lines.append("  none")
    return lines


def _short_type(kind: str) -> str:
    return kind.removeprefix("AWS::")


def _pct(rate: float) -> str:
    return f"{rate * 100:.1f}"


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: max(0, size - 1)] + "…"
