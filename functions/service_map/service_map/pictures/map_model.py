"""The service-map summary read as a graph of node indices, whatever way edges name their ends.

Summaries name an edge's ends by node id (`source_id`/`target_id`). Without ids, names must do,
but X-Ray reuses names: a `client` node is named like the root it calls, and a Lambda service
node like its function node. Then X-Ray's own conventions decide: clients only call, calls
arrive at a Lambda *service* and leave from a Lambda *function*.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MapGraph:
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    ends: list[tuple[int, int]]  # (source index, target index) for each edge


def _source_rank(node: dict[str, Any], same_name: bool) -> int:
    kind = node.get("type") or ""
    if same_name:  # client -> root, service -> function
        return {"client": 0, "AWS::Lambda": 1}.get(kind, 2)
    if kind == "client":
        return 3
    return 0 if kind == "AWS::Lambda::Function" else 1


def _target_rank(node: dict[str, Any]) -> int:
    kind = node.get("type") or ""
    if kind == "client":
        return 3
    return 0 if kind == "AWS::Lambda" else 1


def read_graph(summary: dict[str, Any]) -> MapGraph:
    """Resolve every edge of `summary` to a pair of node indices (creating missing nodes)."""
    nodes = [dict(node) for node in summary.get("nodes") or []]
    by_id = {str(node["id"]): index for index, node in enumerate(nodes) if node.get("id")}
    by_key: dict[str, list[int]] = {}
    for index, node in enumerate(nodes):
        by_key.setdefault(str(node.get("name")), []).append(index)

    def lookup(name: Any) -> list[int]:
        found = by_key.get(str(name))
        if found is None:  # an edge to a node the summary left out still gets drawn
            nodes.append({"name": str(name), "type": None, "statistics": None})
            found = by_key[str(name)] = [len(nodes) - 1]
        return found

    edges = list(summary.get("edges") or [])
    ends: list[tuple[int, int]] = []
    for edge in edges:
        source_id, target_id = str(edge.get("source_id")), str(edge.get("target_id"))
        if source_id in by_id and target_id in by_id:
            ends.append((by_id[source_id], by_id[target_id]))
            continue
        sources, targets = lookup(edge.get("source")), lookup(edge.get("target"))
        same = edge.get("source") == edge.get("target")
        source = min(sources, key=lambda i: (_source_rank(nodes[i], same), i))
        others = [i for i in targets if i != source] or targets
        target = min(others, key=lambda i: (_target_rank(nodes[i]), i))
        ends.append((source, target))
    return MapGraph(nodes=nodes, edges=edges, ends=ends)
