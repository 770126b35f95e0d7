"""Left-to-right layered layout: columns by call depth, rows ordered to keep edges short.

A node's column is its call depth: the fewest calls from an entry point (a client, a root, a
node nothing calls). Nodes that call nothing (tables, queues, topics) then move one column
right of their deepest caller, so every call into them points right. Boxes sit on a grid of
fixed cells, so no two boxes can overlap however large the map.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

NODE_W = 232
NODE_H = 66
COL_GAP = 150
ROW_GAP = 22
SWEEPS = 4


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float = NODE_W
    h: float = NODE_H


def depths(count: int, ends: list[tuple[int, int]], first: list[int]) -> list[int]:
    """Column of each node; `first` lists entry points to start from (clients, roots)."""
    successors: list[list[int]] = [[] for _ in range(count)]
    callers: list[list[int]] = [[] for _ in range(count)]
    for source, target in ends:
        if source != target:
            successors[source].append(target)
            callers[target].append(source)
    depth = [-1] * count
    entries = first + [node for node in range(count) if not callers[node]]
    for start in entries + list(range(count)):  # the last pass reaches cycles nothing enters
        if depth[start] >= 0:
            continue
        depth[start] = 0
        queue = deque([start])
        while queue:
            node = queue.popleft()
            for target in successors[node]:
                if depth[target] < 0:
                    depth[target] = depth[node] + 1
                    queue.append(target)
    for node in range(count):
        if not successors[node] and callers[node]:
            depth[node] = max(depth[node], max(depth[caller] for caller in callers[node]) + 1)
    return depth


def _order_columns(depth: list[int], ends: list[tuple[int, int]]) -> list[list[int]]:
    """Nodes per column, ordered by the barycentre heuristic (a few sweeps each way)."""
    columns: list[list[int]] = [[] for _ in range(max(depth, default=-1) + 1)]
    for node, layer in enumerate(depth):
        columns[layer].append(node)
    callers: list[list[int]] = [[] for _ in depth]
    callees: list[list[int]] = [[] for _ in depth]
    for source, target in ends:
        if depth[source] < depth[target]:
            callers[target].append(source)
            callees[source].append(target)
    position = [0.0] * len(depth)
    for members in columns:
        for row, node in enumerate(members):
            position[node] = row

    def sweep(order: range, neighbours: list[list[int]]) -> None:
        for index in order:
            column = columns[index]
            keys = {}
            for node in column:
                near = neighbours[node]
                keys[node] = sum(position[n] for n in near) / len(near) if near else position[node]
            column.sort(key=lambda node: keys[node])
            for row, node in enumerate(column):
                position[node] = row

    for _ in range(SWEEPS):
        sweep(range(1, len(columns)), callers)
        sweep(range(len(columns) - 2, -1, -1), callees)
    return columns


def layout(count: int, ends: list[tuple[int, int]], first: list[int], top: float) -> list[Box]:
    """A box for every node; `first` lists nodes to start from (clients, roots), `top` the
    y where the drawing starts."""
    depth = depths(count, ends, first)
    columns = _order_columns(depth, ends)
    tallest = max((len(column) for column in columns), default=0)
    boxes: list[Box | None] = [None] * count
    for index, column in enumerate(columns):
        offset = (tallest - len(column)) * (NODE_H + ROW_GAP) / 2
        for row, node in enumerate(column):
            boxes[node] = Box(
                x=24 + index * (NODE_W + COL_GAP),
                y=top + offset + row * (NODE_H + ROW_GAP),
            )
    return [box for box in boxes if box is not None]
