"""The service graph X-Ray draws from segments, in botocore's GetServiceGraph shapes.

- a node per segment (name, origin, account); Lambda sends two: AWS::Lambda and its function;
- inferred nodes for subsegments with namespace "aws" (named from the aws block) or
  "remote" (host of http.request.url), unless a traced segment answered that subsegment;
- a "client" node upstream of every root segment, its numbers on its edge only;
- edges from the caller's subsegment (or segment) with caller-side statistics;
- "link" edges from an SQS queue to the function its message triggered, with the message's
  age in ReceivedEventAgeHistogram.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .documents import Document
from .statistics import Statistics, clipped_span, histogram
from .traces import walk

NodeKey = tuple[str, str, str | None]  # (Name, Type, AccountId): unique across responses
Window = tuple[float, float] | None

# Botocore endpoint prefixes (what the Python SDK names its subsegments) to X-Ray's names.
AWS_SERVICE_NAMES = {
    "dynamodb": "DynamoDB", "sqs": "SQS", "sns": "SNS", "lambda": "Lambda", "s3": "S3",
    "kinesis": "Kinesis", "states": "StepFunctions", "events": "EventBridge",
    "secretsmanager": "SecretsManager", "ssm": "SSM", "sts": "STS", "xray": "XRay",
}
UNTYPED_SERVICE = "service"  # type for a segment that names no origin


@dataclass
class Node:
    key: NodeKey
    state: str
    stats: Statistics | None  # None for client nodes
    root: bool = False


@dataclass
class Edge:
    stats: Statistics = field(default_factory=Statistics)
    ages: Counter[float] | None = None  # set for asynchronous "link" edges


def inferred_identity(subsegment: Document) -> tuple[str, str] | None:
    """(Name, Type) of the node X-Ray infers from a subsegment, or None if it infers none."""
    namespace = subsegment.get("namespace")
    if namespace == "aws":
        aws = subsegment.get("aws") or {}
        name = str(subsegment["name"])
        service = AWS_SERVICE_NAMES.get(name.lower(), name)
        if isinstance(aws.get("table_name"), str):
            return aws["table_name"], "AWS::DynamoDB::Table"
        tables = aws.get("resource_names")
        if service == "DynamoDB" and isinstance(tables, list) and len(tables) == 1:
            return str(tables[0]), "AWS::DynamoDB::Table"
        if isinstance(aws.get("queue_url"), str):
            return aws["queue_url"], "AWS::SQS::Queue"
        if service == "Lambda" and isinstance(aws.get("function_name"), str):
            return aws["function_name"], "AWS::Lambda"
        if isinstance(aws.get("bucket_name"), str):
            return aws["bucket_name"], "AWS::S3::Bucket"
        return service, f"AWS::{service}"
    if namespace == "remote":
        url = ((subsegment.get("http") or {}).get("request") or {}).get("url")
        host = urlsplit(url).hostname if isinstance(url, str) else None
        return str(host or subsegment["name"]), "remote"
    return None


def segment_key(segment: Document) -> NodeKey:
    account = (segment.get("aws") or {}).get("account_id")
    origin = segment.get("origin") or UNTYPED_SERVICE
    return segment["name"], origin, account if isinstance(account, str) else None


def _is_queue(element: Document) -> bool:
    return element.get("namespace") == "aws" and "queue_url" in (element.get("aws") or {})


class ServiceGraph:
    def __init__(self, window: Window = None) -> None:
        self.window = window
        self.nodes: dict[NodeKey, Node] = {}
        self.edges: dict[tuple[NodeKey, NodeKey], Edge] = {}

    def _node(self, key: NodeKey, state: str, with_stats: bool = True) -> Node:
        node = self.nodes.get(key)
        if node is None:
            node = self.nodes[key] = Node(key, state, Statistics() if with_stats else None)
        return node

    def _edge(self, source: NodeKey, target: NodeKey, link: bool = False) -> Edge:
        edge = self.edges.get((source, target))
        if edge is None:
            edge = self.edges[(source, target)] = Edge(ages=Counter() if link else None)
        return edge

    def add_traces(self, traces: dict[str, list[Document]]) -> ServiceGraph:
        """Add assembled traces. Links may point into another trace of the same batch."""
        owners: dict[tuple[str, str], tuple[Document, NodeKey]] = {}
        for trace_id, segments in traces.items():
            for segment in segments:
                if segment.get("inferred"):
                    continue
                key = segment_key(segment)
                for element in walk(segment):
                    owners[(trace_id, element["id"])] = (element, key)
        for trace_id, segments in traces.items():
            self._add_trace(trace_id, segments, owners)
        return self

    def _add_trace(self, trace_id: str, segments: list[Document], owners: dict) -> None:
        answered: set[str] = set()  # subsegments a traced segment answered: no inferred node
        for segment in segments:
            if segment.get("inferred") or segment.get("in_progress"):
                continue
            key = segment_key(segment)
            node = self._node(key, "active")
            assert node.stats is not None
            node.stats.add(segment)
            caller = owners.get((trace_id, segment.get("parent_id")))
            if caller is not None:
                element, caller_key = caller
                if _is_queue(element):
                    self._link(element, segment, key)
                else:
                    answered.add(element["id"])
                    self._edge(caller_key, key).stats.add(element)
                continue
            linked = [owners.get((link.get("trace_id"), link.get("id")))
                      for link in segment.get("links") or () if isinstance(link, dict)]
            queues = [found[0] for found in linked if found and _is_queue(found[0])]
            for element in queues:
                self._link(element, segment, key)
            if not queues:
                node.root = True
                client = self._node((segment["name"], "client", None), "unknown", False)
                self._edge(client.key, key).stats.add(segment)
        for segment in segments:
            if segment.get("inferred") or segment.get("in_progress"):
                continue
            owner = segment_key(segment)
            for element in walk(segment):
                if element is segment or element["id"] in answered:
                    continue
                if element.get("in_progress"):
                    continue
                identity = inferred_identity(element)
                if identity is not None:
                    target = self._node((*identity, None), "unknown")
                    assert target.stats is not None
                    target.stats.add(element)
                    self._edge(owner, target.key).stats.add(element)

    def _link(self, message: Document, consumer: Document, consumer_key: NodeKey) -> None:
        identity = inferred_identity(message)
        assert identity is not None
        edge = self._edge((*identity, None), consumer_key, link=True)
        edge.stats.add(consumer)
        assert edge.ages is not None
        sent = message.get("end_time", message["start_time"])
        edge.ages[round(max(0.0, consumer["start_time"] - sent), 3)] += 1

    # -- output --------------------------------------------------------------------------

    def services(self) -> list[dict[str, Any]]:
        order = sorted(self.nodes, key=lambda k: (k[0], k[1], k[2] or ""))
        reference = {key: number for number, key in enumerate(order)}
        outgoing: dict[NodeKey, list[dict[str, Any]]] = {key: [] for key in order}
        for (source, target), edge in sorted(
            self.edges.items(), key=lambda item: reference[item[0][1]]
        ):
            outgoing[source].append(self._edge_shape(reference[target], edge))
        return [self._node_shape(reference[key], self.nodes[key], outgoing[key]) for key in order]

    def _edge_shape(self, reference_id: int, edge: Edge) -> dict[str, Any]:
        start, end = clipped_span(edge.stats, self.window)
        shape: dict[str, Any] = {
            "ReferenceId": reference_id,
            "StartTime": start,
            "EndTime": end,
            "SummaryStatistics": edge.stats.summary(),
            "Aliases": [],
        }
        if edge.ages is not None:
            shape["EdgeType"] = "link"
            shape["ReceivedEventAgeHistogram"] = histogram(edge.ages)
        else:
            shape["ResponseTimeHistogram"] = histogram(edge.stats.response_times)
        return shape

    def _node_shape(self, reference_id: int, node: Node, edges: list[dict]) -> dict[str, Any]:
        name, kind, account = node.key
        shape: dict[str, Any] = {"ReferenceId": reference_id, "Name": name, "Names": [name]}
        if node.root:
            shape["Root"] = True
        if account is not None:
            shape["AccountId"] = account
        shape.update(Type=kind, State=node.state)
        if node.stats is not None and node.stats.total:
            span = clipped_span(node.stats, self.window)
        else:
            low, high = self.window or (0.0, 0.0)
            span = (min((e["StartTime"] for e in edges), default=low),
                    max((e["EndTime"] for e in edges), default=high))
        shape.update(StartTime=span[0], EndTime=span[1], Edges=edges)
        if node.stats is None:
            shape["SummaryStatistics"] = {}  # a client's numbers live on its edges
        else:
            shape["SummaryStatistics"] = node.stats.summary()
            shape["DurationHistogram"] = histogram(node.stats.response_times)
            shape["ResponseTimeHistogram"] = histogram(node.stats.response_times)
        return shape


def service_graph(traces: dict[str, list[Document]], window: Window = None) -> list[dict]:
    return ServiceGraph(window).add_traces(traces).services()
