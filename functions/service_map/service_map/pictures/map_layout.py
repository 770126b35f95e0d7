"""Left-to-right layered layout: columns by call depth, rows ordered to keep edges short.

Depth is the longest call path from a caller-less node once cycles are broken, so every call
that is not part of a cycle points right. Boxes sit on a grid of fixed cells, so no two
boxes can overlap however large the map.
"""

from __future__ import annotations

from dataclasses import dataclass

NODE_W = 210
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


def _forward_edges(count: int, ends: list[tuple[int, int]], first: list[int]) -> list[list[int]]:
    """Successor lists without the edges that close a cycle (found by depth-first search)."""
    successors: list[list[int]] = [[] for _ in range(count)]
    for source, target in ends:
        if source != target:
            successors[source].append(target)
    state = [0] * count  # 0 unseen, 1 on the stack, 2 done
    forward: list[list[int]] = [[] for _ in range(count)]
    for start in first + list(range(count)):
        if state[start]:
            continue
        state[start] = 1
        stack = [(start, iter(successors[start]))]
        while stack:
            node, pending = stack[-1]
            advanced = False
            for nxt in pending:
                if state[nxt] == 1:
                    continue  # back edge: drop it for layering
                forward[node].append(nxt)
                if state[nxt] == 0:
                    state[nxt] = 1
                    stack.append((nxt, iter(successors[nxt])))
                    advanced = True
                    break
            if not advanced:
                state[node] = 2
                stack.pop()
    return forward


def depths(count: int, ends: list[tuple[int, int]], first: list[int]) -> list[int]:
    """Column of each node: longest path from a node nothing calls, over the acyclic edges."""
    forward = _forward_edges(count, ends, first)
    incoming = [0] * count
    for targets in forward:
        for target in targets:
            incoming[target] += 1
    depth = [0] * count
    ready = [node for node in range(count) if incoming[node] == 0]
    while ready:
        node = ready.pop()
        for target in forward[node]:
            depth[target] = max(depth[target], depth[node] + 1)
            incoming[target] -= 1
            if incoming[target] == 0:
                ready.append(target)
    return depth


def _order_columns(depth: list[int], ends: list[tuple[int, int]]) -> list[list[int]]:
    """Nodes per column, ordered by the barycentre heuristic (a few sweeps each way)."""
    columns: list[list[int]] = [[] for _ in range(max(depth, default=-1) + 1)]
    for node, column in enumerate(depth):
        columns[column].append(node)
    callers: list[list[int]] = [[] for _ in depth]
    callees: list[list[int]] = [[] for _ in depth]
    for source, target in ends:
        if depth[source] < depth[target]:
            callers[target].append(source)
            callees[source].append(target)
    position = [0.0] * len(depth)
    for column in columns:
        for row, node in enumerate(column):
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
