"""One graph from many GetServiceGraph pages, checking each page as it goes.

ReferenceId is unique only inside one response, so nodes are merged across pages and chunks
by (Name, Type, AccountId) and edges by their two nodes; counts and histograms are summed.
Pages with the same StartTime and EndTime are pages of one response and share ReferenceIds.
Every sum is order-free (integers, dict-keyed histograms, ``math.fsum`` for times), so the
result does not depend on the order of the pages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from service_map.errors import InputError
from service_map.pages import to_epoch

_NUMBER_TYPES = frozenset((int, float))  # not bool: True is no count
_NOTHING: dict = {}

NodeKey = tuple[str, str, str | None]  # (Name, Type, AccountId)
EdgeKey = tuple[NodeKey, NodeKey]


@dataclass(slots=True)
class Tally:
    """Summed SummaryStatistics and ResponseTimeHistogram of one node or edge."""

    requests: int = 0
    ok: int = 0
    errors: int = 0
    throttles: int = 0
    faults: int = 0
    response_times: list[float] = field(default_factory=list)  # fsum'd later: order-free
    histogram: dict[float, int] = field(default_factory=dict)  # seconds -> count


@dataclass(slots=True)
class MergedNode:
    key: NodeKey
    names: set[str] = field(default_factory=set)
    root: bool = False
    tally: Tally = field(default_factory=Tally)


@dataclass(slots=True)
class MergedEdge:
    source: NodeKey
    target: NodeKey
    is_async: bool = False
    tally: Tally = field(default_factory=Tally)
    event_ages: dict[float, int] | None = None  # async edges only


@dataclass(slots=True)
class MergedGraph:
    nodes: dict[NodeKey, MergedNode] = field(default_factory=dict)
    edges: dict[EdgeKey, MergedEdge] = field(default_factory=dict)
    start: float | None = None  # earliest page StartTime (or service StartTime if no page has one)
    end: float | None = None
    contains_old_group_versions: bool = False
    # Edges to a ReferenceId their response does not list (X-Ray's own inconsistency, or a
    # response read only in part): left out and counted, so the rest is still summarised.
    dangling_edges: int = 0


def merge_pages(pages: list[Any]) -> MergedGraph:
    """Merge GetServiceGraph pages into one graph; raise ``InputError`` naming a bad part."""
    graph = MergedGraph()
    responses: dict[tuple[float | None, float | None], list[tuple[str, list]]] = {}
    service_times: list[float] = []
    for number, page in enumerate(pages, 1):
        where = f"page {number}"
        if not isinstance(page, dict):
            raise InputError(f"{where} is a JSON {type(page).__name__}, expected an object")
        services = page.get("Services")
        if not isinstance(services, list):
            raise InputError(f"{where}: Services is missing or not a list")
        start = _optional_time(page, "StartTime", where)
        end = _optional_time(page, "EndTime", where)
        if start is not None and end is not None and end < start:
            raise InputError(f"{where}: EndTime is before StartTime")
        graph.start = _earliest(graph.start, start)
        graph.end = _latest(graph.end, end)
        if page.get("ContainsOldGroupVersions") is True:
            graph.contains_old_group_versions = True
        if start is None or end is None:
            service_times.extend(_service_times(services, where))
        responses.setdefault((start, end), []).append((where, services))
    if service_times:
        graph.start = _earliest(graph.start, min(service_times))
        graph.end = _latest(graph.end, max(service_times))
    for response in responses.values():
        _merge_response(graph, response)
    return graph


def _merge_response(graph: MergedGraph, response: list[tuple[str, list]]) -> None:
    keys: dict[int, NodeKey] = {}
    for where, services in response:
        for index, service in enumerate(services):
            here = f"{where}, Services[{index}]"
            if not isinstance(service, dict):
                raise InputError(f"{here} is not an object")
            name, kind, account = service.get("Name"), service.get("Type"), service.get("AccountId")
            if not isinstance(name, str) or not isinstance(kind, str):
                raise InputError(f"{here}: Name and Type must be strings")
            if account is not None and not isinstance(account, str):
                raise InputError(f"{here}: AccountId must be a string")
            reference = service.get("ReferenceId")
            if type(reference) is not int:
                raise InputError(f"{here}: ReferenceId must be an integer")
            key = (name, kind, account)
            if keys.setdefault(reference, key) != key:
                raise InputError(f"{here}: ReferenceId {reference} names two services")
    for where, services in response:
        for index, service in enumerate(services):
            here = f"{where}, Services[{index}]"
            key = keys[service["ReferenceId"]]
            node = graph.nodes.get(key)
            if node is None:
                node = graph.nodes[key] = MergedNode(key)
            node.names.add(key[0])
            names = service.get("Names")
            if names is not None:
                if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                    raise InputError(f"{here}: Names must be a list of strings")
                node.names.update(names)
            if service.get("Root") is True:
                node.root = True
            _add_statistics(node.tally, service.get("SummaryStatistics"), here)
            _add_histogram(node.tally.histogram, service.get("ResponseTimeHistogram"), here)
            edges = service.get("Edges")
            if edges is None:
                continue
            if not isinstance(edges, list):
                raise InputError(f"{here}: Edges must be a list")
            for number, raw in enumerate(edges):
                _merge_edge(graph, keys, key, raw, Place(here, number))


class Place:
    """Where an edge sits, spelled out only when something is wrong with it (cheap to make)."""

    __slots__ = ("service", "edge")

    def __init__(self, service: str, edge: int) -> None:
        self.service, self.edge = service, edge

    def __str__(self) -> str:
        return f"{self.service}, Edges[{self.edge}]"


def _merge_edge(
    graph: MergedGraph, keys: dict[int, NodeKey], source: NodeKey, raw: Any, where: Place
) -> None:
    if not isinstance(raw, dict):
        raise InputError(f"{where} is not an object")
    reference = raw.get("ReferenceId")
    if type(reference) is not int:
        raise InputError(f"{where}: ReferenceId {reference!r} is not an integer")
    target = keys.get(reference)
    if target is None:
        graph.dangling_edges += 1
        return
    edge = graph.edges.get((source, target))
    if edge is None:
        edge = graph.edges[(source, target)] = MergedEdge(source, target)
    if raw.get("EdgeType") == "link":
        edge.is_async = True
    _add_statistics(edge.tally, raw.get("SummaryStatistics"), where)
    _add_histogram(edge.tally.histogram, raw.get("ResponseTimeHistogram"), where)
    ages = raw.get("ReceivedEventAgeHistogram")
    if ages is not None:
        if edge.event_ages is None:
            edge.event_ages = {}
        _add_histogram(edge.event_ages, ages, where)


def _add_statistics(tally: Tally, stats: Any, where: object) -> None:
    if not stats:  # None, or {} as on client nodes: nothing recorded
        return
    if not isinstance(stats, dict):
        raise InputError(f"{where}: SummaryStatistics is not an object")
    errors = stats.get("ErrorStatistics") or _NOTHING
    faults = stats.get("FaultStatistics") or _NOTHING
    if not isinstance(errors, dict) or not isinstance(faults, dict):
        raise InputError(f"{where}: ErrorStatistics and FaultStatistics must be objects")
    requests = stats.get("TotalCount") or 0
    ok = stats.get("OkCount") or 0
    other = errors.get("OtherCount") or 0
    throttles = errors.get("ThrottleCount") or 0
    fault_count = faults.get("TotalCount") or 0
    for name, value in (
        ("TotalCount", requests),
        ("OkCount", ok),
        ("OtherCount", other),
        ("ThrottleCount", throttles),
        ("FaultStatistics.TotalCount", fault_count),
    ):
        if type(value) is not int or value < 0:
            raise InputError(f"{where}: {name} {value!r} is not a non-negative integer")
    tally.requests += requests
    tally.ok += ok
    tally.errors += other
    tally.throttles += throttles
    tally.faults += fault_count
    total_time = stats.get("TotalResponseTime")
    if total_time is not None:
        if type(total_time) not in _NUMBER_TYPES or not 0 <= total_time < math.inf:
            raise InputError(f"{where}: TotalResponseTime {total_time!r} is not a number >= 0")
        tally.response_times.append(total_time)


def _add_histogram(histogram: dict[float, int], entries: Any, where: object) -> None:
    if entries is None:
        return
    if not isinstance(entries, list):
        raise InputError(f"{where}: histogram is not a list")
    for entry in entries:
        try:
            value, count = entry["Value"], entry["Count"]
        except (TypeError, KeyError):
            raise InputError(
                f"{where}: histogram entry {entry!r} is not {{Value, Count}}"
            ) from None
        if type(count) is not int or count < 0:
            raise InputError(f"{where}: histogram count {count!r} is not a non-negative integer")
        if type(value) not in _NUMBER_TYPES or not 0 <= value < math.inf:
            raise InputError(f"{where}: histogram value {value!r} is not a non-negative number")
        if count:
            value += 0.0  # -0 and 0 are one bucket; ints become floats
            histogram[value] = histogram.get(value, 0) + count


def _optional_time(obj: dict, name: str, where: str) -> float | None:
    value = obj.get(name)
    return None if value is None else to_epoch(value, f"{where}: {name}")


def _service_times(services: list, where: str) -> list[float]:
    times = []
    for index, service in enumerate(services):
        if isinstance(service, dict):
            for name in ("StartTime", "EndTime"):
                value = _optional_time(service, name, f"{where}, Services[{index}]")
                if value is not None:
                    times.append(value)
    return times


def _earliest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)
