"""The service-map summary: every service and every call between them, with traffic,
failures, tail latency, health, changes since the previous window and the worst offenders.
The format is described in SUMMARY.md and summary.schema.json."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from service_map.changes import changes
from service_map.errors import InputError
from service_map.health import Thresholds, health
from service_map.merge import MergedEdge, MergedNode, NodeKey, merge_pages
from service_map.pages import iso, load_pages, to_epoch
from service_map.statistics import milliseconds, percentiles, statistics

__all__ = ["FORMAT", "VERSION", "load_pages", "node_id", "summarise"]

logger = logging.getLogger(__name__)

FORMAT = "lambda-tracing/service-map-summary"
VERSION = 1
TOP_COUNT = 5


def summarise(
    pages: list[dict],
    *,
    group: str = "Default",
    previous: dict | None = None,
    thresholds: Thresholds | None = None,
    window: tuple[datetime, datetime] | None = None,
    complete: bool = True,
) -> dict:
    """Summarise GetServiceGraph response pages (dicts as boto3 returns or the CLI prints).

    Pages with the same StartTime/EndTime belong to one response and share its ReferenceIds;
    pages with other windows are further chunks; nodes merge by (Name, Type, AccountId).
    ``previous`` is the previous window's summary, for ``changes``; ``thresholds`` defaults
    to Kiali's health thresholds. ``window`` (start, end) overrides the window the pages
    cover (the Lambda passes the window it asked for); ``complete=False`` marks a summary of
    pages read before a failure (it is also set when edges to services the response does not
    list had to be left out). Raises ``InputError`` on pages that cannot be summarised.
    """
    with _no_cycle_collection():
        return _summarise(pages, group, previous, thresholds or Thresholds(), window, complete)


def _summarise(
    pages: list[dict],
    group: str,
    previous: dict | None,
    thresholds: Thresholds,
    window: tuple[datetime, datetime] | None,
    complete: bool,
) -> dict:
    graph = merge_pages(pages)
    if graph.dangling_edges:
        logger.warning(
            "edges to services the response does not list were left out",
            extra={"group": group, "dangling_edges": graph.dangling_edges},
        )
        complete = False
    if window is not None:
        start, end = to_epoch(window[0], "window start"), to_epoch(window[1], "window end")
    elif graph.start is not None and graph.end is not None:
        start, end = graph.start, graph.end
    else:
        raise InputError("no StartTime/EndTime in any page or service: the window is unknown")
    seconds = end - start
    ids = {key: node_id(key) for key in graph.nodes}
    nodes = sorted(
        (_node(node, ids[key], seconds, thresholds) for key, node in graph.nodes.items()),
        key=lambda node: node["id"],
    )
    edges = sorted(
        (_edge(edge, ids, seconds, thresholds) for edge in graph.edges.values()),
        key=lambda edge: edge["id"],
    )
    return {
        "format": FORMAT,
        "version": VERSION,
        "window": {"start": iso(start), "end": iso(end), "seconds": _whole(seconds)},
        "group": group,
        "complete": complete,
        "contains_old_group_versions": graph.contains_old_group_versions,
        "nodes": nodes,
        "edges": edges,
        "changes": changes(nodes, edges, previous, thresholds),
        "top": _top(nodes, edges),
    }


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    # A summary allocates several containers per node and edge and makes no reference
    # cycles; left on, the cycle collector rescans the growing heap again and again (a
    # quarter of the time at 20,000 edges). Reference counting still frees everything.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def node_id(key: NodeKey) -> str:
    """A node's id, unique in a summary and stable across windows: Type/Name, prefixed with
    AccountId/ when X-Ray gives one (names alone repeat: a client and its service)."""
    name, kind, account = key
    return f"{account}/{kind}/{name}" if account else f"{kind}/{name}"


def _node(node: MergedNode, ident: str, seconds: float, thresholds: Thresholds) -> dict:
    name, kind, account = node.key
    client = kind == "client"
    stats = None if client else statistics(node.tally, seconds)
    return {
        "id": ident,
        "name": name,
        "names": sorted(node.names),
        "type": kind,
        "account_id": account,
        "root": node.root,
        "client": client,
        "statistics": stats,
        "health": health(stats, thresholds),
    }


def _edge(edge: MergedEdge, ids: dict, seconds: float, thresholds: Thresholds) -> dict:
    source, target = ids[edge.source], ids[edge.target]
    stats = statistics(edge.tally, seconds)
    age_p50, age_p99 = percentiles(edge.event_ages, (50, 99)) if edge.event_ages else (None, None)
    return {
        "id": f"{source} -> {target}",
        "source": edge.source[0],
        "target": edge.target[0],
        "source_id": source,
        "target_id": target,
        "async": edge.is_async,
        "statistics": stats,
        "health": health(stats, thresholds),
        "event_age_p50_ms": milliseconds(age_p50),
        "event_age_p99_ms": milliseconds(age_p99),
    }


def _top(nodes: list[dict], edges: list[dict]) -> dict:
    timed = [edge for edge in edges if edge["statistics"]["p99_ms"] is not None]
    timed.sort(key=lambda edge: (-edge["statistics"]["p99_ms"], edge["id"]))
    failing = [
        node for node in nodes if node["statistics"] is not None and _failed(node["statistics"]) > 0
    ]
    failing.sort(key=lambda node: (*_failing_rank(node["statistics"]), node["id"]))
    return {
        "slowest_edges": [
            {
                "id": edge["id"],
                "source": edge["source"],
                "target": edge["target"],
                "p99_ms": edge["statistics"]["p99_ms"],
                "requests": edge["statistics"]["requests"],
            }
            for edge in timed[:TOP_COUNT]
        ],
        "most_failing_nodes": [
            {
                "id": node["id"],
                "name": node["name"],
                "type": node["type"],
                "fault_rate": node["statistics"]["fault_rate"],
                "error_rate": node["statistics"]["error_rate"],
                "throttle_rate": node["statistics"]["throttle_rate"],
                "health": node["health"],
            }
            for node in failing[:TOP_COUNT]
        ],
    }


def _failed(stats: dict) -> int:
    return stats["faults"] + stats["errors"] + stats["throttles"]


def _failing_rank(stats: dict) -> tuple[float, float]:
    # Faults (5xx) first, then 4xx: a service answering 500 is worse off than one saying 404.
    return (-stats["fault_rate"], -(stats["error_rate"] + stats["throttle_rate"]))


def _whole(seconds: float) -> int | float:
    return int(seconds) if float(seconds).is_integer() else round(seconds, 3)
