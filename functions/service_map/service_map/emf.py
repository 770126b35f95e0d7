"""CloudWatch metrics of a summary through Powertools Metrics (EMF on stdout).

Three kinds, each its own dimension set:
- per group, dimension Group only: WorstFaultRate (Percent), WorstP99 (Milliseconds),
  Requests (Count, into the root nodes) - the alarms watch these;
- per root node (Group, Service, ServiceType) and per edge (Group, Source, Target), the
  busiest first, at most ``max_nodes`` / ``max_edges`` of them so cardinality stays bounded.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit


def group_worst(summary: dict) -> dict[str, float]:
    """WorstFaultRate (%), WorstP99 (ms, absent when nothing was timed) and Requests."""
    measured = [n["statistics"] for n in summary["nodes"] if n["statistics"] is not None]
    measured += [e["statistics"] for e in summary["edges"]]
    worst: dict[str, float] = {
        "WorstFaultRate": max(
            (s["fault_rate"] * 100 for s in measured if s["requests"]), default=0.0
        ),
        "Requests": sum(
            n["statistics"]["requests"]
            for n in summary["nodes"]
            if n["root"] and n["statistics"] is not None
        ),
    }
    p99s = [s["p99_ms"] for s in measured if s["p99_ms"] is not None]
    if p99s:
        worst["WorstP99"] = max(p99s)
    return worst


def emit_metrics(summary: dict, namespace: str, max_nodes: int, max_edges: int) -> dict:
    """Print the summary's EMF blobs; return how many nodes and edges got metrics or not."""
    group = summary["group"]
    worst = group_worst(summary)
    units = {"WorstFaultRate": MetricUnit.Percent, "WorstP99": MetricUnit.Milliseconds}
    _emit(
        namespace,
        {"Group": group},
        [(n, units.get(n, MetricUnit.Count), v) for n, v in worst.items()],
    )

    roots = _busiest([n for n in summary["nodes"] if n["root"] and n["statistics"]])
    for node in roots[:max_nodes]:
        dimensions = {"Group": group, "Service": node["name"], "ServiceType": node["type"]}
        _emit(namespace, dimensions, _figures(node["statistics"]))
    edges = _busiest(summary["edges"])
    for edge in edges[:max_edges]:
        dimensions = {"Group": group, "Source": edge["source"], "Target": edge["target"]}
        _emit(namespace, dimensions, _figures(edge["statistics"]))
    return {
        "nodes": min(len(roots), max_nodes),
        "nodes_capped": max(0, len(roots) - max_nodes),
        "edges": min(len(edges), max_edges),
        "edges_capped": max(0, len(edges) - max_edges),
    }


def _busiest(items: list[dict]) -> list[dict]:
    return sorted(items, key=lambda item: (-item["statistics"]["requests"], item["id"]))


def _figures(stats: dict) -> list[tuple[str, MetricUnit, float]]:
    figures = [
        ("Requests", MetricUnit.Count, stats["requests"]),
        ("Faults", MetricUnit.Count, stats["faults"]),
        ("Errors", MetricUnit.Count, stats["errors"]),
        ("Throttles", MetricUnit.Count, stats["throttles"]),
        ("FaultRate", MetricUnit.Percent, stats["fault_rate"] * 100),
    ]
    for name, key in (("P50", "p50_ms"), ("P99", "p99_ms")):
        if stats[key] is not None:
            figures.append((name, MetricUnit.Milliseconds, stats[key]))
    return figures


def _emit(namespace: str, dimensions: dict, figures: list[tuple[str, MetricUnit, float]]) -> None:
    # service="" keeps Powertools from adding its default "service" dimension: the alarms
    # and dashboard name exactly these dimensions.
    metrics = EphemeralMetrics(namespace=namespace, service="")
    for name, value in dimensions.items():
        metrics.add_dimension(name=name, value=_dimension_value(value))
    for name, unit, value in figures:
        metrics.add_metric(name=name, unit=unit, value=value)
    metrics.flush_metrics()


MAX_DIMENSION_VALUE = 1024  # CloudWatch's limit on a dimension value's length


def _dimension_value(value: str) -> str:
    """A value CloudWatch takes: Powertools drops an empty one (and with it the dimension,
    moving the metric to another dimension set), and CloudWatch refuses one over 1,024
    characters."""
    if not value:
        return "(empty)"
    return value if len(value) <= MAX_DIMENSION_VALUE else value[: MAX_DIMENSION_VALUE - 1] + "…"
