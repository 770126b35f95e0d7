"""The service graph, trace assembly and statistics, from hand-made segment documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lambda_tracing_local.xray.graph import inferred_identity, service_graph
from lambda_tracing_local.xray.traces import ERROR, FAULT, THROTTLE, assemble, outcome, summarise

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "xray"
QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/SampleQueue"
T0 = 1_700_000_000.0


def doc(name: str, id: str, start: float = 0.0, end: float = 0.1, **fields: Any) -> dict:
    return {"name": name, "id": id, "start_time": T0 + start, "end_time": T0 + end, **fields}


def topology(services: list[dict]) -> tuple[set, set]:
    named = {s["ReferenceId"]: (s["Name"], s["Type"]) for s in services}
    edges = {
        (named[s["ReferenceId"]], named[e["ReferenceId"]], e.get("EdgeType"))
        for s in services
        for e in s["Edges"]
    }
    return set(named.values()), edges


def sqs_to_lambda_traces(linked: bool) -> dict[str, list[dict]]:
    """SampleSite sends to SQS; the queue triggers ProcessSQSRecord (the grafana example).
    Either the Lambda segment's parent is the send (AWSTraceHeader) or it links to it."""
    send = doc(
        "SQS",
        "5e0d000000000001",
        0.01,
        0.05,
        namespace="aws",
        aws={"operation": "SendMessage", "queue_url": QUEUE},
    )
    site = doc(
        "SampleSite",
        "5e0d000000000000",
        0,
        0.1,
        origin="AWS::ElasticBeanstalk::Environment",
        subsegments=[send],
        http={"response": {"status": 200}},
    )
    consumer = doc("ProcessSQSRecord", "1a00000000000000", 2.0, 2.4, origin="AWS::Lambda")
    function = doc(
        "ProcessSQSRecord",
        "1a00000000000001",
        2.01,
        2.39,
        parent_id=consumer["id"],
        origin="AWS::Lambda::Function",
        aws={"account_id": "1"},
    )
    if linked:
        consumer["links"] = [{"trace_id": "1-a-producer", "id": send["id"]}]
        return {"1-a-producer": [site], "1-b-consumer": [consumer, function]}
    consumer["parent_id"] = send["id"]
    return {"1-a-producer": [site, consumer, function]}


@pytest.mark.parametrize("linked", [False, True], ids=["trace-header", "span-link"])
def test_sqs_triggered_lambda_matches_the_grafana_topology(linked: bool) -> None:
    services = service_graph(sqs_to_lambda_traces(linked))
    example = json.loads((FIXTURES / "get-service-graph.lambda-sqs.grafana.json").read_text())
    nodes, edges = topology(services)
    expected_nodes, expected_edges = topology(example["Services"])
    assert nodes == expected_nodes
    # Same edges; ours marks the queue -> Lambda edge as the asynchronous "link" it is.
    assert {(a, b) for a, b, _ in edges} == {(a, b) for a, b, _ in expected_edges}
    link = next(e for s in services for e in s["Edges"] if e.get("EdgeType") == "link")
    assert "ResponseTimeHistogram" not in link
    assert link["ReceivedEventAgeHistogram"] == [{"Value": 1.95, "Count": 1}]
    function = next(s for s in services if s["Type"] == "AWS::Lambda::Function")
    assert function["AccountId"] == "1"
    client = next(s for s in services if s["Type"] == "client")
    assert client["SummaryStatistics"] == {}
    assert not any(s.get("Root") for s in services if s["Name"] == "ProcessSQSRecord")


def test_a_queue_whose_send_is_still_in_progress_stays_an_inferred_node() -> None:
    traces = sqs_to_lambda_traces(linked=True)
    (send,) = traces["1-a-producer"][0]["subsegments"]
    del send["end_time"]
    send["in_progress"] = True
    services = service_graph(traces)
    (queue,) = [s for s in services if s["Type"] == "AWS::SQS::Queue"]
    assert queue["State"] == "unknown"  # as every inferred node: not a traced service
    assert queue["SummaryStatistics"] == {}  # no call to it has ended yet
    (link,) = queue["Edges"]
    assert link["EdgeType"] == "link"


def test_malformed_links_are_ignored_not_fatal() -> None:
    segment = doc("app", "a000000000000000", links=[{"trace_id": [1], "id": {}}, "x", None])
    nodes, edges = topology(service_graph({"1-x": [segment]}))
    assert nodes == {("app", "service"), ("app", "client")}


def test_statuses_count_as_error_throttle_and_fault_on_the_callers_edge() -> None:
    calls = [
        doc(
            "api.example.com",
            f"c0000000000000{n:02d}",
            namespace="remote",
            http={"request": {"url": "https://api.example.com/x"}, "response": {"status": status}},
        )
        for n, status in enumerate([200, 404, 429, 500, 503])
    ]
    root = doc("checkout", "a000000000000000", subsegments=calls)
    services = service_graph({"1-x": [root]})
    remote = next(s for s in services if s["Type"] == "remote")
    assert remote["Name"] == "api.example.com"
    statistics = remote["SummaryStatistics"]
    assert statistics["OkCount"] == 1
    assert statistics["ErrorStatistics"] == {"ThrottleCount": 1, "OtherCount": 1, "TotalCount": 2}
    assert statistics["FaultStatistics"] == {"OtherCount": 2, "TotalCount": 2}
    assert statistics["TotalCount"] == 5
    checkout = next(s for s in services if s["Type"] == "service")
    [edge] = checkout["Edges"]
    assert edge["SummaryStatistics"] == statistics
    assert checkout["Root"] is True


def test_a_traced_downstream_service_replaces_the_inferred_node() -> None:
    call = doc(
        "orders.internal",
        "c000000000000001",
        0.01,
        0.09,
        namespace="remote",
        http={"request": {"url": "http://orders.internal/o"}, "response": {"status": 200}},
    )
    front = doc("front", "f000000000000000", subsegments=[call])
    orders = doc("orders", "0000000000000001", 0.02, 0.08, parent_id=call["id"])
    nodes, edges = topology(service_graph({"1-x": [front, orders]}))
    assert ("orders.internal", "remote") not in nodes
    assert (("front", "service"), ("orders", "service"), None) in edges
    # The edge carries the caller's view: 80 ms, not the callee's 60 ms.
    services = service_graph({"1-x": [front, orders]})
    edge = next(
        e for s in services if s["Name"] == "front" and s["Type"] == "service" for e in s["Edges"]
    )
    assert edge["SummaryStatistics"]["TotalResponseTime"] == pytest.approx(0.08)


@pytest.mark.parametrize(
    ("subsegment", "identity"),
    [
        ({"name": "dynamodb", "aws": {"table_name": "orders"}}, ("orders", "AWS::DynamoDB::Table")),
        ({"name": "DynamoDB", "aws": {"resource_names": ["t"]}}, ("t", "AWS::DynamoDB::Table")),
        ({"name": "dynamodb", "aws": {}}, ("DynamoDB", "AWS::DynamoDB")),
        ({"name": "sqs", "aws": {"queue_url": QUEUE}}, (QUEUE, "AWS::SQS::Queue")),
        ({"name": "SNS", "aws": {"topic_arn": "arn:aws:sns:x:1:t"}}, ("SNS", "AWS::SNS")),
        ({"name": "lambda", "aws": {"function_name": "f"}}, ("f", "AWS::Lambda")),
        ({"name": "s3", "aws": {"bucket_name": "b"}}, ("b", "AWS::S3::Bucket")),
    ],
)
def test_inferred_aws_nodes_are_named_from_the_aws_block(subsegment: dict, identity: tuple) -> None:
    assert inferred_identity({"namespace": "aws", **subsegment}) == identity


def test_local_subsegments_infer_nothing() -> None:
    assert inferred_identity({"name": "## handler", "id": "x"}) is None


def test_assemble_places_nested_streamed_subsegments_and_prefers_complete_ones() -> None:
    segment = doc("app", "a000000000000000", in_progress=True)
    del segment["end_time"]
    outer = doc(
        "outer", "b000000000000000", type="subsegment", parent_id=segment["id"], trace_id="1-x"
    )
    inner = doc(
        "inner", "c000000000000000", 0.01, type="subsegment", parent_id=outer["id"], trace_id="1-x"
    )
    inner_started = dict(inner, in_progress=True)
    del inner_started["end_time"]
    orphan = doc(
        "orphan",
        "d000000000000000",
        type="subsegment",
        parent_id="ffffffffffffffff",
        trace_id="1-x",
    )
    [assembled] = assemble([inner_started, orphan, inner, segment, outer])
    [placed_outer] = assembled["subsegments"]
    assert placed_outer["name"] == "outer" and "trace_id" not in placed_outer
    [placed_inner] = placed_outer["subsegments"]
    assert placed_inner["end_time"] == inner["end_time"]
    summary = summarise("1-x", [assembled])
    assert summary["IsPartial"] is True


def test_a_chain_of_1000_streamed_subsegments_assembles_within_bounds() -> None:
    """Each document is bounded at ingest, but streamed subsegments chain by parent_id to any
    length: past MAX_PLACED_DEPTH they go under their segment, keeping parent_id, and none
    is lost. (Nested 1,000 deep, json.dumps and the summaries' walks would overflow.)"""
    from lambda_tracing_local.xray.traces import MAX_PLACED_DEPTH, walk

    segment = doc("app", "a000000000000000", trace_id="1-x")
    chain, parent = [], segment["id"]
    for number in range(1000):
        link = doc(
            "work",
            f"{number:016x}",
            0.01,
            0.02,
            type="subsegment",
            trace_id="1-x",
            parent_id=parent,
        )
        chain.append(link)
        parent = link["id"]
    (assembled,) = assemble([segment, *reversed(chain)])
    elements = list(walk(assembled))
    assert sorted(e["id"] for e in elements[1:]) == sorted(link["id"] for link in chain)
    depth, element = 0, assembled
    while element.get("subsegments"):
        element = element["subsegments"][0]
        depth += 1
    assert depth == MAX_PLACED_DEPTH
    moved = assembled["subsegments"][1:]
    assert moved and all(e["parent_id"] == f"{int(e['id'], 16) - 1:016x}" for e in moved)
    assert json.loads(json.dumps(assembled))["id"] == segment["id"]
    assert summarise("1-x", [assembled])["Duration"] >= 0


def test_in_progress_segments_add_no_statistics() -> None:
    started = doc("app", "a000000000000000", in_progress=True)
    del started["end_time"]
    assert service_graph({"1-x": [started]}) == []


def test_calls_finished_under_a_segment_still_in_progress_are_drawn_from_it() -> None:
    """The segment counts no call of its own until it ends, but its node exists for the
    calls it has finished: a downstream table, and a traced service it called."""
    table = doc(
        "DynamoDB",
        "b000000000000001",
        0.1,
        0.2,
        namespace="aws",
        aws={"operation": "GetItem", "table_name": "orders"},
    )
    started = doc("app", "a000000000000000", subsegments=[table], in_progress=True)
    del started["end_time"]
    call = doc("billing", "b000000000000002", 0.3, 0.4, namespace="remote")
    caller = doc("web", "c000000000000000", subsegments=[call], in_progress=True)
    del caller["end_time"]
    billing = doc("billing", "d000000000000000", 0.31, 0.39, parent_id=call["id"])
    services = service_graph({"1-a": [started], "1-b": [caller, billing]})
    nodes, edges = topology(services)
    assert nodes == {
        ("app", "service"),
        ("orders", "AWS::DynamoDB::Table"),
        ("web", "service"),
        ("billing", "service"),
    }
    assert edges == {
        (("app", "service"), ("orders", "AWS::DynamoDB::Table"), None),
        (("web", "service"), ("billing", "service"), None),
    }
    by_name = {s["Name"]: s for s in services}
    assert by_name["app"]["SummaryStatistics"] == {}  # its own call has not ended
    assert by_name["web"]["SummaryStatistics"] == {}
    assert by_name["app"]["Edges"][0]["SummaryStatistics"]["TotalCount"] == 1
    assert by_name["billing"]["SummaryStatistics"]["TotalCount"] == 1


def test_a_429_is_an_error_and_a_throttle_in_the_trace_summary() -> None:
    throttled = doc(
        "app", "a000000000000000", http={"response": {"status": 429}}, error=True, throttle=True
    )
    summary = summarise("1-x", [throttled])
    assert (summary["HasError"], summary["HasThrottle"], summary["HasFault"]) == (True, True, False)
    plain = summarise("1-y", [doc("app", "a000000000000001", http={"response": {"status": 404}})])
    assert (plain["HasError"], plain["HasThrottle"]) == (True, False)


@given(
    st.lists(st.sampled_from([None, 200, 201, 400, 404, 429, 500, 502]), min_size=1, max_size=40),
    st.lists(st.floats(min_value=0, max_value=5), min_size=40, max_size=40),
)
def test_counts_and_histograms_add_up(statuses: list[int | None], durations: list[float]) -> None:
    calls = []
    for n, status in enumerate(statuses):
        call = doc("db", f"{n:016x}", 0, durations[n], namespace="aws", aws={"table_name": "t"})
        if status is not None:
            call["http"] = {"response": {"status": status}}
        calls.append(call)
    services = service_graph({"1-x": [doc("app", "a" * 16, 0, 6, subsegments=calls)]})
    table = next(s for s in services if s["Name"] == "t")
    stats = table["SummaryStatistics"]
    assert stats["TotalCount"] == len(statuses)
    assert (
        stats["OkCount"]
        + stats["ErrorStatistics"]["TotalCount"]
        + stats["FaultStatistics"]["TotalCount"]
    ) == len(statuses)
    assert sum(b["Count"] for b in table["ResponseTimeHistogram"]) == len(statuses)
    assert stats["FaultStatistics"]["TotalCount"] == sum(
        1 for s in statuses if s is not None and s >= 500
    )
    assert stats["ErrorStatistics"]["ThrottleCount"] == statuses.count(429)
    assert outcome({"throttle": True}) == THROTTLE


def test_flags_are_kept_independently_and_each_counted_in_its_statistic() -> None:
    """The Python SDK on a DynamoDB 429 flags error + throttle; the Node SDK on a 400 flags
    error + fault: each flag counts in its own statistic, and the call is never ok."""
    everything = {"error": True, "fault": True, "throttle": True}
    assert outcome(everything) == ERROR | THROTTLE | FAULT
    calls = [
        doc("dynamodb", "b000000000000001", namespace="aws", aws={"table_name": "t"}, **everything),
        doc(
            "dynamodb",
            "b000000000000002",
            namespace="aws",
            aws={"table_name": "t"},
            error=True,
            fault=True,
            http={"response": {"status": 400}},
        ),
        doc("dynamodb", "b000000000000003", namespace="aws", aws={"table_name": "t"}),
    ]
    segment = doc("app", "a" * 16, 0, 1, subsegments=calls)
    summary = summarise("1-x", [segment])
    assert (summary["HasError"], summary["HasThrottle"], summary["HasFault"]) == (True, True, True)
    table = next(s for s in service_graph({"1-x": [segment]}) if s["Name"] == "t")
    assert table["SummaryStatistics"]["OkCount"] == 1
    assert table["SummaryStatistics"]["ErrorStatistics"] == {
        "ThrottleCount": 1,
        "OtherCount": 1,
        "TotalCount": 2,
    }
    assert table["SummaryStatistics"]["FaultStatistics"] == {"OtherCount": 2, "TotalCount": 2}
    assert table["SummaryStatistics"]["TotalCount"] == 3


def test_an_sql_call_is_a_database_sql_node_named_as_the_sdk_names_it() -> None:
    query = doc(
        "ebdb@example.rds.amazonaws.com",
        "b000000000000001",
        namespace="remote",
        sql={
            "url": "jdbc:postgresql://example.rds.amazonaws.com:5432/ebdb",
            "database_type": "PostgreSQL",
            "sanitized_query": "SELECT 1",
        },
    )
    assert inferred_identity(query) == ("ebdb@example.rds.amazonaws.com", "Database::SQL")
    nodes, edges = topology(service_graph({"1-x": [doc("app", "a" * 16, subsegments=[query])]}))
    sql_node = ("ebdb@example.rds.amazonaws.com", "Database::SQL")
    assert sql_node in nodes and (("app", "service"), sql_node, None) in edges
    # an HTTP call stays a remote node named by its host
    http = doc(
        "GET",
        "b000000000000002",
        namespace="remote",
        http={"request": {"url": "https://api.example.com/x"}},
    )
    assert inferred_identity(http) == ("api.example.com", "remote")


def test_a_subsegment_sent_inside_its_segment_and_streamed_too_counts_once() -> None:
    call = doc("dynamodb", "b000000000000001", 0.1, 0.2, namespace="aws", aws={"table_name": "t"})
    segment = doc("app", "a" * 16, 0, 1, trace_id="1-x", subsegments=[call])
    streamed = dict(call, type="subsegment", trace_id="1-x", parent_id="a" * 16)
    # also a completed streamed copy of one the segment still shows in progress
    pending = doc(
        "dynamodb", "b000000000000002", 0.3, 0.4, namespace="aws", aws={"table_name": "t"}
    )
    segment["subsegments"].append(
        {k: v for k, v in pending.items() if k != "end_time"} | {"in_progress": True}
    )
    streamed_done = dict(pending, type="subsegment", trace_id="1-x", parent_id="a" * 16)
    for order in ([segment, streamed, streamed_done], [streamed_done, streamed, segment]):
        services = service_graph({"1-x": json.loads(json.dumps(order))})
        table = next(s for s in services if s["Name"] == "t")
        assert table["SummaryStatistics"]["TotalCount"] == 2
        segments = assemble(json.loads(json.dumps(order)))
        assert [s["id"] for s in segments[0]["subsegments"]] == [
            "b000000000000001",
            "b000000000000002",
        ]
        assert "in_progress" not in segments[0]["subsegments"][1]


def lambda_with_otel_handler(handler_account: str | None) -> list[dict]:
    """Lambda's own two segments, and an OTel handler span converted to a segment whose
    parent is Lambda's function segment (the Parent of _X_AMZN_TRACE_ID), with its DynamoDB
    call streamed apart, as the OTLP intake stores them."""
    service = doc("orders", "1" * 16, 0, 1, trace_id="1-x", origin="AWS::Lambda")
    function = doc(
        "orders",
        "2" * 16,
        0.1,
        0.9,
        trace_id="1-x",
        parent_id="1" * 16,
        origin="AWS::Lambda::Function",
        aws={"request_id": "r"},
    )
    handler = doc(
        "orders",
        "3" * 16,
        0.2,
        0.8,
        trace_id="1-x",
        parent_id="2" * 16,
        origin="AWS::Lambda::Function",
        aws={"account_id": handler_account} if handler_account else {},
    )
    call = doc(
        "DynamoDB",
        "4" * 16,
        0.3,
        0.4,
        trace_id="1-x",
        parent_id="3" * 16,
        type="subsegment",
        namespace="aws",
        aws={"table_name": "t"},
    )
    return [service, function, handler, call]


@pytest.mark.parametrize("handler_account", [None, "123456789012"])
def test_an_otel_handler_segment_under_lambdas_function_segment_is_that_node_once(
    handler_account: str | None,
) -> None:
    services = service_graph({"1-x": lambda_with_otel_handler(handler_account)})
    nodes, edges = topology(services)
    function = ("orders", "AWS::Lambda::Function")
    assert (function, function, None) not in edges
    assert [s["Name"] for s in services if s["Type"] == function[1]] == ["orders"]
    node = next(s for s in services if (s["Name"], s["Type"]) == function)
    assert node["SummaryStatistics"]["TotalCount"] == 1
    assert ((("orders", "AWS::Lambda"), function, None)) in edges
    assert (function, ("t", "AWS::DynamoDB::Table"), None) in edges


def test_a_service_calling_itself_through_a_subsegment_keeps_its_self_edge() -> None:
    call = doc(
        "self",
        "b" * 16,
        0.1,
        0.5,
        namespace="remote",
        http={"request": {"url": "http://app.local/x"}},
    )
    caller = doc("app", "a" * 16, 0, 1, trace_id="1-x", subsegments=[call])
    callee = doc("app", "c" * 16, 0.2, 0.4, trace_id="1-x", parent_id="b" * 16)
    services = service_graph({"1-x": [caller, callee]})
    _, edges = topology(services)
    assert (("app", "service"), ("app", "service"), None) in edges
    app = next(s for s in services if (s["Name"], s["Type"]) == ("app", "service"))
    assert app["SummaryStatistics"]["TotalCount"] == 2


def test_a_segment_under_its_own_nodes_local_subsegment_is_not_a_second_call() -> None:
    # OTel: an INTERNAL span (a local subsegment) parenting a SERVER span of the same service
    work = doc("work", "b" * 16, 0.1, 0.9)
    outer = doc("app", "a" * 16, 0, 1, trace_id="1-x", subsegments=[work])
    inner = doc("app", "c" * 16, 0.2, 0.8, trace_id="1-x", parent_id="b" * 16)
    services = service_graph({"1-x": [outer, inner]})
    _, edges = topology(services)
    assert (("app", "service"), ("app", "service"), None) not in edges
    app = next(s for s in services if (s["Name"], s["Type"]) == ("app", "service"))
    assert app["SummaryStatistics"]["TotalCount"] == 1
