"""What changed since the previous window's summary: nodes and edges added and gone, and
regressions in p99 or fault rate beyond the thresholds."""

from __future__ import annotations

from typing import Any

from service_map.health import Thresholds


def changes(nodes: list[dict], edges: list[dict], previous: Any, thresholds: Thresholds) -> dict:
    """The summary's ``changes`` object against ``previous`` (a summary dict).

    A previous summary of the wrong shape counts as no previous summary: ``against`` is then
    null and nothing is listed, rather than everything being reported as added.
    """
    before_nodes = _by_id(previous, "nodes")
    before_edges = _by_id(previous, "edges")
    if before_nodes is None or before_edges is None:
        return {
            "against": None,
            "nodes_added": [],
            "nodes_gone": [],
            "edges_added": [],
            "edges_gone": [],
            "regressions": [],
        }
    now_nodes = {node["id"]: node for node in nodes}
    now_edges = {edge["id"]: edge for edge in edges}
    regressions = []
    for kind, now, before in (("node", now_nodes, before_nodes), ("edge", now_edges, before_edges)):
        for ident in sorted(now.keys() & before.keys()):
            regressions.extend(_regressions(kind, ident, now[ident], before[ident], thresholds))
    window = previous.get("window")
    return {
        "against": {"start": window.get("start"), "end": window.get("end")}
        if isinstance(window, dict)
        else None,
        "nodes_added": sorted(now_nodes.keys() - before_nodes.keys()),
        "nodes_gone": sorted(before_nodes.keys() - now_nodes.keys()),
        "edges_added": sorted(now_edges.keys() - before_edges.keys()),
        "edges_gone": sorted(before_edges.keys() - now_edges.keys()),
        "regressions": regressions,
    }


def _by_id(summary: Any, name: str) -> dict[str, dict] | None:
    if not isinstance(summary, dict) or not isinstance(summary.get(name), list):
        return None
    return {
        item["id"]: item
        for item in summary[name]
        if isinstance(item, dict) and isinstance(item.get("id"), str)
    }


def _regressions(kind: str, ident: str, now: dict, before: dict, limits: Thresholds) -> list:
    found: list[dict] = []
    now_stats, before_stats = now.get("statistics"), before.get("statistics")
    if not isinstance(now_stats, dict) or not isinstance(before_stats, dict):
        return found
    p99, p99_before = _number(now_stats.get("p99_ms")), _number(before_stats.get("p99_ms"))
    if p99 is not None and p99_before is not None:
        grew_by = p99 - p99_before
        if grew_by >= limits.regression_p99_min_ms and grew_by > (
            p99_before * limits.regression_p99_pct / 100
        ):
            found.append(_regression(kind, ident, "p99_ms", p99_before, p99))
    fault, fault_before = (
        _number(now_stats.get("fault_rate")),
        _number(before_stats.get("fault_rate")),
    )
    if fault is not None and fault_before is not None:
        grew_by_pts = (fault - fault_before) * 100
        if grew_by_pts > 0 and grew_by_pts >= limits.regression_fault_rate_pts:
            found.append(_regression(kind, ident, "fault_rate", fault_before, fault))
    return found


def _regression(kind: str, ident: str, metric: str, before: float, after: float) -> dict:
    return {"kind": kind, "id": ident, "metric": metric, "before": before, "after": after}


def _number(value: Any) -> float | None:
    return value if type(value) in (int, float) else None
