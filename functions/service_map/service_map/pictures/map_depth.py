"""Which column each service goes in: its depth in the call graph, callers left of callees.

Longest-path layering (once the calls that close a cycle are set aside) makes every other call
point right, and puts a table called from deep and shallow services right of all of them.
Entry points nothing calls then move right until they sit just before their first callee, so
an SQS-triggered function's client node sits beside it, not at the far left. On tangled graphs
longest paths can run to hundreds of columns; there the fewest-calls depth is used instead.
"""

from __future__ import annotations

from collections import deque


def _successors(count: int, ends: list[tuple[int, int]]) -> list[list[int]]:
    successors: list[list[int]] = [[] for _ in range(count)]
    for source, target in ends:
        if source != target:
            successors[source].append(target)
    return successors


def _acyclic(successors: list[list[int]], first: list[int]) -> list[list[int]]:
    """The successor lists without the calls that close a cycle (found depth first)."""
    count = len(successors)
    state = [0] * count  # 0 unseen, 1 on the stack, 2 done
    forward: list[list[int]] = [[] for _ in range(count)]
    for start in first + list(range(count)):
        if state[start]:
            continue
        state[start] = 1
        stack = [(start, iter(successors[start]))]
        while stack:
            node, pending = stack[-1]
            for nxt in pending:
                if state[nxt] == 1:
                    continue  # closes a cycle
                forward[node].append(nxt)
                if state[nxt] == 0:
                    state[nxt] = 1
                    stack.append((nxt, iter(successors[nxt])))
                    break
            else:
                state[node] = 2
                stack.pop()
    return forward


def _longest(forward: list[list[int]]) -> list[int]:
    count = len(forward)
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
    callers = [0] * count
    for targets in forward:
        for target in targets:
            callers[target] += 1
    for node in range(count):  # entry points move up to just before their first callee
        if not callers[node] and forward[node]:
            depth[node] = min(depth[target] for target in forward[node]) - 1
    return depth


def _fewest_calls(successors: list[list[int]], first: list[int]) -> list[int]:
    count = len(successors)
    callers: list[list[int]] = [[] for _ in range(count)]
    for node, targets in enumerate(successors):
        for target in targets:
            callers[target].append(node)
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
    for node in range(count):  # what calls nothing goes right of all its callers
        if not successors[node] and callers[node]:
            depth[node] = max(depth[node], max(depth[caller] for caller in callers[node]) + 1)
    return depth


def depths(count: int, ends: list[tuple[int, int]], first: list[int]) -> list[int]:
    """Column of each node; `first` lists entry points to start from (clients, roots)."""
    successors = _successors(count, ends)
    longest = _longest(_acyclic(successors, first))
    fewest = _fewest_calls(successors, first)
    if max(longest, default=0) > 2 * max(fewest, default=0) + 2:
        return fewest
    return longest
