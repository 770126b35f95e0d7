"""The service graph X-Ray draws from segments, in botocore's GetServiceGraph shapes.

- a node per segment (name, origin, account); Lambda sends two: AWS::Lambda and its function;
  a segment whose parent is its own node's segment or local subsegment (an OTel handler span
  under Lambda's function segment) is that node's own work, not a second call (otlp/OTLP.md);
- inferred nodes for subsegments with namespace "aws" (named from the aws block) or
  "remote": a Database::SQL node for an SQL call (a `sql` block), else the host of
  http.request.url; none where a traced segment answered that subsegment;
- a subsegment counted once, whether it arrived inside its segment, streamed on its own,
  or both (a completed copy wins over one in progress);
- a "client" node upstream of every root segment, its numbers on its edge only;
- edges from the caller's subsegment (or segment) with caller-side statistics;
- "link" edges from an SQS queue to the function its message triggered, with the message's
  age in ReceivedEventAgeHistogram.

The graph is built from projections: per stored document, the few fields the graph needs,
computed once at ingest, so a graph over 100,000 segments does not re-parse whole documents.
Traces that are one root segment alone (the common case) are added up in bulk from two
columns kept beside the projection (lone.py, add_lone_roots), to the same result.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from . import statistics
from .documents import Document
from .statistics import CallStatistics, clipped_span, histogram, histogram_of, timing
from .traces import outcome

NodeKey = tuple[str, str, str | None]  # (Name, Type, AccountId): unique across responses
Window = tuple[float, float] | None

# Botocore endpoint prefixes (what the Python SDK names its subsegments) to X-Ray's names.
AWS_SERVICE_NAMES = {
    "dynamodb": "DynamoDB",
    "sqs": "SQS",
    "sns": "SNS",
    "lambda": "Lambda",
    "s3": "S3",
    "kinesis": "Kinesis",
    "states": "StepFunctions",
    "events": "EventBridge",
    "secretsmanager": "SecretsManager",
    "ssm": "SSM",
    "sts": "STS",
    "xray": "XRay",
}
UNTYPED_SERVICE = "service"  # type for a segment that names no origin


# A projection is a list, for speed and size. An entry is one timed element, a tuple (one
# allocation, its fields inline: the graph reads 300,000 of them, scattered in memory):
#   (id, start, end, outcome, in_progress, inferred name, inferred type,
#    stop, duration, millis)   (see statistics.timing)
# a segment:  ["s", entry, parent_id, name, type, account, inferred, links, entries]
# a streamed subsegment: ["u", parent_id, entries] (its own entry first)
Entry = tuple[Any, ...]
Projection = list[Any]
ID, START, END, OUTCOME, IN_PROGRESS, INFERRED_NAME, INFERRED_TYPE, STOP = range(8)
assert (START, END, OUTCOME, STOP) == (
    statistics.START,
    statistics.END,
    statistics.OUTCOME,
    statistics.STOP,
)
QUEUE_TYPE = "AWS::SQS::Queue"
SQL_TYPE = "Database::SQL"


@dataclass
class Node:
    key: NodeKey
    state: str
    calls: list[Entry] | None  # None for client and inferred nodes: see services()
    root: bool = False
    inferred: bool = False
    # Statistics of calls added in bulk (lone.py), beside the calls listed one by one
    parts: list[CallStatistics] = field(default_factory=list)


@dataclass
class Edge:
    calls: list[Entry] = field(default_factory=list)
    ages: list[float] | None = None  # set for asynchronous "link" edges
    parts: list[CallStatistics] = field(default_factory=list)  # as Node.parts


def inferred_identity(subsegment: Document) -> tuple[str, str] | None:
    """(Name, Type) of the node X-Ray infers from a subsegment, or None if it infers none."""
    # (Fields read as members() and text_field() read them, inline: this runs per call.)
    namespace = subsegment.get("namespace")
    if namespace == "aws":
        aws = subsegment.get("aws")
        if aws.__class__ is not dict:
            aws = _NO_MEMBERS
        table = aws.get("table_name")
        if table.__class__ is str:  # DynamoDB, whatever the subsegment's name
            return table, "AWS::DynamoDB::Table"
        name = str(subsegment["name"])
        service = AWS_SERVICE_NAMES.get(name.lower(), name)
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
        if subsegment.get("sql").__class__ is dict:
            # An SQL call: X-Ray's inferred database segment, named as the SDKs name the
            # subsegment (database@host), of type Database::SQL.
            return str(subsegment["name"]), SQL_TYPE
        http = subsegment.get("http")
        request = http.get("request") if http.__class__ is dict else None
        url = request.get("url") if request.__class__ is dict else None
        host = _hostname(url) if url.__class__ is str else None
        return host or str(subsegment["name"]), "remote"
    return None


_NO_MEMBERS: dict[str, Any] = {}


@lru_cache(maxsize=4096)  # a service calls few distinct URLs; parsing one costs ~5 us
def _hostname(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:  # e.g. "http://[not-ipv6": the subsegment's name stands in
        return None


PROJECTION_VERSION = 4  # bump when the layout above changes: stores rebuild projections


def _entry(element: Document, infer: bool) -> Entry:
    identity = inferred_identity(element) if infer and "namespace" in element else None
    start, end = element["start_time"], element.get("end_time")
    return (
        element["id"],
        start,
        end,
        outcome(element),
        1 if element.get("in_progress") else 0,
        *(map(_interned, identity) if identity else (None, None)),
        *timing(start, end),
    )


def _interned(value: Any) -> Any:
    """Names as interned strings: marshal stores them as such, and loads each as the one
    object, so 100,000 projections share their few names (no copies to allocate and free,
    node keys hashed once and compared by identity)."""
    return sys.intern(value) if type(value) is str else value


def _subsegment_entries(element: Document) -> list[Entry]:
    # The order (last child first, then its children) is the one admission.py follows.
    entries = []
    pending = list(element.get("subsegments") or ())
    while pending:
        child = pending.pop()
        entries.append(_entry(child, True))
        pending.extend(child.get("subsegments") or ())  # null, as validate allows: none
    return entries


def project(document: Document) -> Projection:
    """What the graph needs of one validated segment or streamed subsegment."""
    streamed = document.get("type") == "subsegment"
    return projection_of(document, _entry(document, streamed), _subsegment_entries(document))


def projection_of(document: Document, own: Entry, entries: list[Entry]) -> Projection:
    """The projection of a validated document, given the entry of the document itself
    (inferring a node only for a streamed subsegment) and those of its subsegments."""
    if document.get("type") == "subsegment":
        return ["u", document["parent_id"], [own, *entries]]
    aws = document.get("aws")
    account = aws.get("account_id") if aws.__class__ is dict else None
    # "links" is outside the schema: keep only well-formed ones, as lookup keys must be.
    sent = document.get("links")
    links = (
        [
            [link["trace_id"], link["id"]]
            for link in sent
            if isinstance(link, dict)
            and isinstance(link.get("trace_id"), str)
            and isinstance(link.get("id"), str)
        ]
        if sent.__class__ is list
        else []
    )
    origin = document.get("origin")
    return [
        "s",
        own,
        document.get("parent_id"),
        sys.intern(document["name"]),  # validated: a str (what _interned checks for)
        sys.intern(origin if origin.__class__ is str and origin else UNTYPED_SERVICE),
        _interned(account) if isinstance(account, str) else None,
        1 if document.get("inferred") else 0,
        links,
        entries,
    ]


class ServiceGraph:
    def __init__(self, window: Window = None) -> None:
        self.window = window
        self.nodes: dict[NodeKey, Node] = {}
        self.edges: dict[tuple[NodeKey, NodeKey], Edge] = {}
        # For _add_lone_root: per service, its node's and its client edge's call lists; per
        # service and inferred node, the edge's (lists do not move once made).
        self._root_calls: dict[NodeKey, tuple[list[Entry], list[Entry]]] = {}
        self._call_lists: dict[tuple[NodeKey, str, str], list[Entry]] = {}

    def _node(self, key: NodeKey, state: str, with_calls: bool = True) -> Node:
        node = self.nodes.get(key)
        if node is None:
            node = self.nodes[key] = Node(key, state, [] if with_calls else None)
        return node

    def _edge(self, source: NodeKey, target: NodeKey, link: bool = False) -> Edge:
        edge = self.edges.get((source, target))
        if edge is None:
            # An edge's ends are always nodes: a segment still in progress counts no call of
            # its own yet, but the calls it has finished (or a caller's) draw it, unmeasured.
            for end in (source, target):
                if end not in self.nodes:
                    self._node(end, "active")
            edge = self.edges[(source, target)] = Edge(ages=[] if link else None)
        return edge

    def add_documents(self, traces: dict[str, list[Document]]) -> ServiceGraph:
        return self.add_projections(
            {trace_id: [project(d) for d in documents] for trace_id, documents in traces.items()}
        )

    def add_projections(self, traces: dict[str, list[Projection]]) -> ServiceGraph:
        """Add whole traces. Links may point into another trace of the same call."""
        messages: dict[tuple[str, str], Entry] = {}  # SQS sends, for links from other traces
        linking: list[tuple[Projection, NodeKey]] = []  # consumers waiting for those
        for trace_id, projections in traces.items():
            if len(projections) == 1 and self._add_lone_root(trace_id, projections[0], messages):
                continue
            owners: dict[str, tuple[Entry, NodeKey]] = {}
            segments: list[tuple[Projection, NodeKey]] = []
            owned: list[tuple[NodeKey, list[Entry]]] = []
            folded: set[str] = set()
            self._own(projections, owners, segments, owned, folded)
            answered = self._add_segments(segments, owners, linking, folded)
            self._add_inferred(owned, answered)
            for _, entries in owned:
                for entry in entries:
                    if entry[INFERRED_TYPE] == QUEUE_TYPE:
                        messages[(trace_id, entry[ID])] = entry
        for projection, key in linking:
            found = [
                messages[(trace, span)]
                for trace, span in projection[7]
                if (trace, span) in messages
            ]
            for message in found:
                self._link(message, projection[1], key)
            if not found:
                self._add_root(projection, key)
        return self

    def _add_lone_root(
        self, trace_id: str, projection: Projection, messages: dict[tuple[str, str], Entry]
    ) -> bool:
        """The common trace, one root segment with its subsegments, added as the general
        path below would add it but without its bookkeeping; False for any other trace."""
        if projection[0] != "s" or projection[2] is not None or projection[6] or projection[7]:
            return False
        entry = projection[1]
        key: NodeKey = (projection[3], projection[4], projection[5])
        if not entry[IN_PROGRESS]:
            lists = self._root_calls.get(key)
            if lists is None:
                node = self.nodes.get(key) or self._node(key, "active")
                node.root = True
                client = self._node((projection[3], "client", None), "unknown", False)
                assert node.calls is not None
                lists = self._root_calls[key] = (node.calls, self._edge(client.key, key).calls)
            lists[0].append(entry)
            lists[1].append(entry)
        call_lists = self._call_lists
        for element in projection[8]:
            target_name = element[INFERRED_NAME]
            if target_name is None:
                continue
            target_type = element[INFERRED_TYPE]
            if target_type == QUEUE_TYPE:
                messages[(trace_id, element[ID])] = element
            if element[IN_PROGRESS]:
                continue
            calls = call_lists.get((key, target_name, target_type))
            if calls is None:
                target: NodeKey = (target_name, target_type, None)
                if target not in self.nodes:
                    self._node(target, "unknown", False).inferred = True
                edge = self.edges.get((key, target)) or self._edge(key, target)
                calls = call_lists[(key, target_name, target_type)] = edge.calls
            calls.append(element)
        return True

    def add_lone_roots(self, groups: dict[bytes, list[bytes]]) -> ServiceGraph:
        """Add traces that are each one root segment alone, given as lone.columns' calls
        grouped by shape: what _add_lone_root would add, a shape's calls at a time."""
        from .lone import grouped_statistics

        for shape, rows in groups.items():
            for key, target, part in grouped_statistics(shape, rows):
                if target is None:  # the segment's own call: its node and client edge
                    node = self.nodes.get(key) or self._node(key, "active")
                    node.root = True
                    node.parts.append(part)
                    client = self._node((key[0], "client", None), "unknown", False)
                    self._edge(client.key, key).parts.append(part)
                    continue
                called: NodeKey = (target[0], target[1], None)
                if called not in self.nodes:
                    self._node(called, "unknown", False).inferred = True
                self._edge(key, called).parts.append(part)
        return self

    @staticmethod
    def _own(
        projections: list[Projection],
        owners: dict[str, tuple[Entry, NodeKey]],
        segments: list[tuple[Projection, NodeKey]],
        owned: list[tuple[NodeKey, list[Entry]]],
        folded: set[str],
    ) -> None:
        """Index one trace's elements by id with the node that owns them; streamed
        subsegments belong to the segment their parent chain leads to, in any order.
        Segments folded into their parent segment's node are added to `folded`."""
        streamed = []
        for projection in projections:
            if projection[0] == "u":
                streamed.append(projection)
            elif not projection[6]:  # inferred segments are X-Ray's output, not a service
                key: NodeKey = (projection[3], projection[4], projection[5])
                owners[projection[1][ID]] = (projection[1], key)
                for entry in projection[8]:
                    owners[entry[ID]] = (entry, key)
                owned.append((key, projection[8]))
                segments.append((projection, key))
        for index, (projection, key) in enumerate(segments if len(segments) > 1 else ()):
            parent = owners.get(projection[2]) if projection[2] else None
            if parent is not None and parent[0][INFERRED_NAME] is None:
                parent_key = parent[1]
                if parent_key[0] != key[0] or parent_key[1] != key[1]:
                    continue
                # an account only one of them names does not tell them apart (Lambda's
                # function segment names none, an OTel resource may)
                if parent_key[2] != key[2] and None not in (parent_key[2], key[2]):
                    continue
                # A segment whose parent is its own node's segment or local subsegment (an
                # OTel Lambda handler span under Lambda's function segment) is that node's
                # work, as the X-Ray SDK's subsegments under the function segment are: no
                # call, no edge of its own; its calls are the node's.
                folded.add(projection[1][ID])
                if parent_key != key:
                    owners[projection[1][ID]] = (projection[1], parent_key)
                    for entry in projection[8]:
                        owners[entry[ID]] = (entry, parent_key)
                    owned[index] = (parent_key, projection[8])
                    segments[index] = (projection, parent_key)
        while streamed:
            waiting = []
            for projection in streamed:
                parent = owners.get(projection[1])
                if parent is None:
                    waiting.append(projection)
                    continue
                # A subsegment sent inside its segment and streamed as well counts once:
                # a copy already owned is left out unless that one is still in progress
                # (in-progress entries count no call).
                entries = [
                    entry
                    for entry in projection[2]
                    if entry[ID] not in owners or owners[entry[ID]][0][IN_PROGRESS]
                ]
                for entry in entries:
                    owners[entry[ID]] = (entry, parent[1])
                owned.append((parent[1], entries))
            if len(waiting) == len(streamed):
                break  # the rest wait for parents that have not arrived
            streamed = waiting

    def _add_segments(
        self,
        segments: list[tuple[Projection, NodeKey]],
        owners: dict[str, tuple[Entry, NodeKey]],
        linking: list[tuple[Projection, NodeKey]],
        folded: set[str],
    ) -> set[str]:
        """Nodes for one trace's segments and the edges into them; returns the subsegments
        a traced segment answered (they get no inferred node)."""
        answered: set[str] = set()
        for projection, key in segments:
            entry = projection[1]
            if entry[IN_PROGRESS] or (folded and entry[ID] in folded):
                continue
            node = self.nodes.get(key) or self._node(key, "active")
            assert node.calls is not None
            node.calls.append(entry)
            caller = owners.get(projection[2]) if projection[2] else None
            if caller is not None:
                element, caller_key = caller
                if element[INFERRED_TYPE] == QUEUE_TYPE:
                    self._link(element, entry, key)
                else:
                    answered.add(element[ID])
                    self._edge(caller_key, key).calls.append(element)
            elif projection[7]:
                linking.append((projection, key))
            else:
                self._add_root(projection, key)
        return answered

    def _add_root(self, projection: Projection, key: NodeKey) -> None:
        self.nodes[key].root = True
        client = self._node((projection[3], "client", None), "unknown", False)
        self._edge(client.key, key).calls.append(projection[1])

    def _add_inferred(self, owned: list[tuple[NodeKey, list[Entry]]], answered: set[str]) -> None:
        nodes, edges = self.nodes, self.edges
        for owner, entries in owned:
            for element in entries:
                if element[INFERRED_NAME] is None or element[IN_PROGRESS]:
                    continue
                if answered and element[ID] in answered:
                    continue
                target: NodeKey = (element[INFERRED_NAME], element[INFERRED_TYPE], None)
                if target not in nodes:
                    self._node(target, "unknown", False).inferred = True
                edge = edges.get((owner, target)) or self._edge(owner, target)
                edge.calls.append(element)

    def _link(self, message: Entry, consumer: Entry, consumer_key: NodeKey) -> None:
        queue: NodeKey = (message[INFERRED_NAME], message[INFERRED_TYPE], None)
        if queue not in self.nodes:  # the send still in progress: the queue is drawn anyway
            self._node(queue, "unknown", False).inferred = True
        edge = self._edge(queue, consumer_key, link=True)
        edge.calls.append(consumer)
        assert edge.ages is not None
        sent = message[START] if message[END] is None else message[END]
        edge.ages.append(max(0.0, consumer[START] - sent))

    # -- output --------------------------------------------------------------------------

    def services(self) -> list[dict[str, Any]]:
        order = sorted(self.nodes, key=lambda k: (k[0], k[1], k[2] or ""))
        reference = {key: number for number, key in enumerate(order)}
        outgoing: dict[NodeKey, list[dict[str, Any]]] = {key: [] for key in order}
        incoming: dict[NodeKey, list[CallStatistics]] = {key: [] for key in order}
        own = {
            key: _statistics(node.calls or [], node.parts)
            for key, node in self.nodes.items()
            if node.calls or node.parts
        }
        for (source, target), edge in sorted(
            self.edges.items(), key=lambda item: reference[item[0][1]]
        ):
            # A service's client edge often carries exactly its node's calls (compared by
            # identity, without reading them): their statistics are computed once.
            node = self.nodes[target]
            calls = node.calls
            same = target in own and calls is not None and len(calls) == len(edge.calls)
            if same and calls == edge.calls and node.parts == edge.parts:
                edge_stats = own[target]
            else:
                edge_stats = _statistics(edge.calls, edge.parts)
            outgoing[source].append(self._edge_shape(reference[target], edge, edge_stats))
            if edge.ages is None:
                incoming[target].append(edge_stats)
        services = []
        for key in order:
            node = self.nodes[key]
            if node.inferred:  # an inferred node's calls are exactly those on its edges
                calls_in = incoming[key]  # none if every call to it is still in progress
                stats: CallStatistics | None = CallStatistics.merged(calls_in) if calls_in else None
            else:
                stats = own.get(key)
            services.append(self._node_shape(reference[key], node, outgoing[key], stats))
        return services

    def _edge_shape(self, reference_id: int, edge: Edge, stats: CallStatistics) -> dict[str, Any]:
        start, end = clipped_span(stats, self.window)
        shape: dict[str, Any] = {
            "ReferenceId": reference_id,
            "StartTime": start,
            "EndTime": end,
            "SummaryStatistics": stats.summary(),
            "Aliases": [],
        }
        if edge.ages is not None:
            shape["EdgeType"] = "link"
            shape["ReceivedEventAgeHistogram"] = histogram(edge.ages)
        else:
            shape["ResponseTimeHistogram"] = histogram_of(stats.millis)
        return shape

    def _node_shape(
        self, reference_id: int, node: Node, edges: list[dict], stats: CallStatistics | None
    ) -> dict[str, Any]:
        name, kind, account = node.key
        shape: dict[str, Any] = {"ReferenceId": reference_id, "Name": name, "Names": [name]}
        if node.root:
            shape["Root"] = True
        if account is not None:
            shape["AccountId"] = account
        shape.update(Type=kind, State=node.state)
        if stats is not None:
            span = clipped_span(stats, self.window)
        else:
            low, high = self.window or (0.0, 0.0)
            span = (
                min((e["StartTime"] for e in edges), default=low),
                max((e["EndTime"] for e in edges), default=high),
            )
        shape.update(StartTime=span[0], EndTime=span[1], Edges=edges)
        if stats is None:
            shape["SummaryStatistics"] = {}  # a client's numbers live on its edges
        else:
            shape["SummaryStatistics"] = stats.summary()
            shape["DurationHistogram"] = histogram_of(stats.millis)
            shape["ResponseTimeHistogram"] = shape["DurationHistogram"]
        return shape


def _statistics(calls: list[Entry], parts: list[CallStatistics]) -> CallStatistics:
    if not parts:
        return CallStatistics.of(calls)
    if not calls and len(parts) == 1:
        return parts[0]
    return CallStatistics.merged([CallStatistics.of(calls), *parts] if calls else parts)


def service_graph(traces: dict[str, list[Document]], window: Window = None) -> list[dict]:
    """Services (botocore shape) for traces given as their stored documents."""
    return ServiceGraph(window).add_documents(traces).services()
