"""What the demo's map and traces must show; each miss is one line for people."""

from __future__ import annotations

import json
from typing import Any

ORDERS, WORKER = "OrdersFunction", "WorkerFunction"


def _nodes(summary: dict[str, Any], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [
        node
        for node in summary.get("nodes", [])
        if node["type"] == kind and (name is None or name in (node["name"], *node["names"]))
    ]


def _stat(node: dict[str, Any], key: str) -> int:
    return int((node.get("statistics") or {}).get(key) or 0)


def map_problems(summary: dict[str, Any], payment_host: str) -> list[str]:
    """Every node and edge kind of the sample app, and the injected fault and throttle."""
    problems = []
    wanted = [
        ("client", None),
        ("AWS::ApiGateway::Stage", None),
        ("AWS::Lambda", ORDERS),
        ("AWS::Lambda::Function", ORDERS),
        ("AWS::Lambda", WORKER),
        ("AWS::Lambda::Function", WORKER),
        ("AWS::DynamoDB::Table", None),
        ("AWS::SQS::Queue", None),
        ("remote", payment_host),
    ]
    for kind, name in wanted:
        if not _nodes(summary, kind, name):
            problems.append(f"no {kind} node{f' named {name}' if name else ''} in the map")
    if not [n for n in summary.get("nodes", []) if n["type"].startswith("AWS::SNS")]:
        problems.append("no SNS node in the map")
    queue_ids = {node["id"] for node in _nodes(summary, "AWS::SQS::Queue")}
    worker_ids = {node["id"] for node in _nodes(summary, "AWS::Lambda", WORKER)}
    worker_ids |= {node["id"] for node in _nodes(summary, "AWS::Lambda::Function", WORKER)}
    if not any(
        edge["async"] and edge["source_id"] in queue_ids and edge["target_id"] in worker_ids
        for edge in summary.get("edges", [])
    ):
        problems.append("no asynchronous edge from the SQS queue to the worker")
    if not any(_stat(node, "faults") for node in _nodes(summary, "AWS::Lambda::Function", ORDERS)):
        problems.append("the orders function shows no faults (oversized orders should fail)")
    if not any(_stat(node, "throttles") for node in _nodes(summary, "remote", payment_host)):
        problems.append("the payment service shows no throttles")
    return problems


def documents(trace: dict[str, Any]) -> list[dict[str, Any]]:
    """Decoded segment documents of a BatchGetTraces trace."""
    return [json.loads(segment["Document"]) for segment in trace.get("Segments", [])]


def _walk(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = [document]
    for child in document.get("subsegments") or []:
        found.extend(_walk(child))
    return found


def hops(trace: dict[str, Any], payment_host: str) -> list[str]:
    """Which of API -> orders -> SQS -> worker -> payment service this one trace holds."""
    seen = []
    elements = [element for doc in documents(trace) for element in _walk(doc)]
    origins = {(e.get("origin"), e.get("name")) for e in elements}
    if any(origin == "AWS::ApiGateway::Stage" for origin, _ in origins):
        seen.append("api")
    if ("AWS::Lambda::Function", ORDERS) in origins:
        seen.append("orders")
    if any("queue_url" in (e.get("aws") or {}) for e in elements):
        seen.append("sqs")
    if ("AWS::Lambda::Function", WORKER) in origins:
        seen.append("worker")
    if any(
        e.get("namespace") == "remote"
        and payment_host in str(((e.get("http") or {}).get("request") or {}).get("url", ""))
        for e in elements
    ):
        seen.append("payment")
    return seen


FULL_PATH = ["api", "orders", "sqs", "worker", "payment"]
