"""Generated GetServiceGraph responses of any size, for tests, benchmarks and demos.

Deterministic for a seed. Each chunk is its own response (its own StartTime/EndTime and its
own, shuffled, ReferenceIds), cut into pages, as the API would return a long window read in
pieces; the shapes are the API's (they pass botocore's Stubber checks).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

SERVICE_TYPES = (
    "AWS::Lambda::Function",
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::SNS",
    "AWS::ApiGateway::Stage",
    "remote",
)


def generate_responses(
    nodes: int,
    edges: int,
    *,
    chunks: int = 1,
    page_size: int = 100,
    seed: int = 0,
    start: datetime = datetime(2025, 1, 1, tzinfo=UTC),
    chunk_length: timedelta = timedelta(hours=6),
) -> list[list[dict]]:
    """``chunks`` responses, each a list of pages, over the same ``nodes`` services (node 0
    a client, nodes 1-2 roots) joined by ``edges`` distinct calls (at most nodes x (nodes-1));
    every 10th call is asynchronous (EdgeType link)."""
    if nodes < 2:
        raise ValueError("need at least two nodes")
    edges = min(edges, nodes * (nodes - 1))
    shape = random.Random(seed)
    names = [f"service-{index:05d}" for index in range(nodes)]
    kinds = ["client"] + [shape.choice(SERVICE_TYPES) for _ in range(nodes - 1)]
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < edges:
        source, target = shape.randrange(nodes), shape.randrange(1, nodes)
        if source != target:
            pairs.add((source, target))
    calls = sorted(pairs)
    responses = []
    for number in range(chunks):
        numbers = random.Random(seed * 1000 + number + 1)
        reference = list(range(nodes))
        numbers.shuffle(reference)  # ReferenceIds differ from response to response
        chunk_start = start + number * chunk_length
        by_source: dict[int, list[dict]] = {index: [] for index in range(nodes)}
        for index, (source, target) in enumerate(calls):
            by_source[source].append(_edge(numbers, reference[target], link=index % 10 == 9))
        services = [
            _service(numbers, index, names[index], kinds[index], reference[index], by_source[index])
            for index in range(nodes)
        ]
        numbers.shuffle(services)
        window = {"StartTime": chunk_start, "EndTime": chunk_start + chunk_length}
        pages = [
            {**window, "Services": services[at : at + page_size], "ContainsOldGroupVersions": False}
            for at in range(0, len(services), page_size)
        ]
        responses.append(pages)
    return responses


def generate_pages(nodes: int, edges: int, **options: object) -> list[dict]:
    """``generate_responses`` flattened: every page of every chunk, in order."""
    return [page for pages in generate_responses(nodes, edges, **options) for page in pages]  # type: ignore[arg-type]


def _histogram(numbers: random.Random, entries: int) -> list[dict]:
    values = {round(numbers.lognormvariate(-3, 1), 3) for _ in range(entries)}
    return [{"Value": value, "Count": numbers.randint(1, 50)} for value in values]


def _statistics(numbers: random.Random, histogram: list[dict]) -> dict:
    total = sum(entry["Count"] for entry in histogram)
    faults = numbers.randint(0, total // 20)
    throttles = numbers.randint(0, (total - faults) // 50)
    errors = numbers.randint(0, (total - faults - throttles) // 10)
    return {
        "OkCount": total - faults - throttles - errors,
        "ErrorStatistics": {
            "ThrottleCount": throttles,
            "OtherCount": errors,
            "TotalCount": throttles + errors,
        },
        "FaultStatistics": {"OtherCount": faults, "TotalCount": faults},
        "TotalCount": total,
        "TotalResponseTime": round(sum(e["Value"] * e["Count"] for e in histogram), 6),
    }


def _edge(numbers: random.Random, target: int, link: bool) -> dict:
    histogram = _histogram(numbers, numbers.randint(1, 8))
    edge: dict = {"ReferenceId": target, "SummaryStatistics": _statistics(numbers, histogram)}
    if link:
        edge["EdgeType"] = "link"
        edge["ReceivedEventAgeHistogram"] = _histogram(numbers, numbers.randint(1, 4))
    else:
        edge["ResponseTimeHistogram"] = histogram
    return edge


def _service(
    numbers: random.Random, index: int, name: str, kind: str, reference: int, edges: list
) -> dict:
    service: dict = {
        "ReferenceId": reference,
        "Name": name,
        "Names": [name],
        "Type": kind,
        "State": "active",
        "Edges": edges,
    }
    if kind == "client":
        return service
    histogram = _histogram(numbers, numbers.randint(1, 12))
    service["Root"] = index in (1, 2)
    service["SummaryStatistics"] = _statistics(numbers, histogram)
    service["ResponseTimeHistogram"] = histogram
    return service
