"""Left-to-right layered layout: columns by call depth, rows ordered to keep calls short.

A call that skips columns is routed through a slot reserved for it in every column it crosses,
so it runs between the boxes instead of behind them (for maps small enough to label; big maps
skip this). Boxes and slots are stacked per column, so no two boxes can overlap however large
the map.
"""

from __future__ import annotations

from dataclasses import dataclass

from service_map.pictures.map_depth import depths

NODE_W = 210
NODE_H = 66
COL_GAP = 150
ROW_GAP = 22
SLOT_H = 20  # the height a routed call takes in a column it crosses
SWEEPS = 4
CENTRE_LIMIT = 1400  # columns are centred up to this height (px), then top-aligned
LEFT = 24


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float = NODE_W
    h: float = NODE_H


@dataclass(frozen=True)
class MapLayout:
    boxes: list[Box]  # one per node
    routes: list[list[tuple[float, float]]]  # per call: (x, y) of each column slot it crosses


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


def _compact(depth: list[int]) -> list[int]:
    """Depths renumbered 0, 1, 2 ... without empty columns."""
    rank = {value: index for index, value in enumerate(sorted(set(depth)))}
    return [rank[value] for value in depth]


def layout(
    count: int, ends: list[tuple[int, int]], first: list[int], top: float, route: bool = True
) -> MapLayout:
    """Boxes for `count` nodes and slots for calls that skip columns; `first` lists entry
    points (clients, roots), `top` is the y where the drawing starts."""
    depth = _compact(depths(count, ends, first))
    # A chain of slot nodes (numbered from `count`) stands in for each call that skips columns.
    chains: list[list[int]] = []
    layered = list(depth)
    segments: list[tuple[int, int]] = []
    for source, target in ends:
        chain: list[int] = []
        if route and depth[target] - depth[source] > 1:
            for crossed in range(depth[source] + 1, depth[target]):
                chain.append(len(layered))
                layered.append(crossed)
            hops = [source, *chain, target]
            segments += list(zip(hops, hops[1:], strict=False))
        else:
            segments.append((source, target))
        chains.append(chain)
    columns = _order_columns(layered, segments)

    def height(node: int) -> float:
        return NODE_H + ROW_GAP if node < count else SLOT_H

    heights = [sum(height(node) for node in column) for column in columns]
    tallest = max(heights, default=0.0)
    y_of: dict[int, float] = {}
    x_of: dict[int, float] = {}
    for index, column in enumerate(columns):
        # centring balances small maps; in big ones it would push columns far down the page
        y = top + ((tallest - heights[index]) / 2 if tallest <= CENTRE_LIMIT else 0.0)
        for node in column:
            x_of[node], y_of[node] = LEFT + index * (NODE_W + COL_GAP), y
            y += height(node)
    boxes = [Box(x=x_of[node], y=y_of[node]) for node in range(count)]
    routes = [[(x_of[slot], y_of[slot] + SLOT_H / 2) for slot in chain] for chain in chains]
    return MapLayout(boxes=boxes, routes=routes)
