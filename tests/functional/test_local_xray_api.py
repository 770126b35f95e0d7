"""The local X-Ray API through boto3 and raw HTTP: awsdocs examples, shapes, errors."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lambda_tracing_local.xray import LocalXRay
from test_local_xray_support import (
    assert_valid_response,
    call,
    client,
    fixture,
    model,
    raw_shape_errors,
)

TRACE_ID = "1-59602603-23fc5b688855d396af79b496"
WINDOW = {"StartTime": 1499473400, "EndTime": 1499473500}


def awsdocs_documents() -> list[str]:
    traces = fixture("batch-get-traces.awsdocs.json")["Traces"]
    return [segment["Document"] for trace in traces for segment in trace["Segments"]]


@pytest.fixture(scope="module")
def xray() -> Iterator[LocalXRay]:
    with LocalXRay(service_graph_page=2) as xr:
        parsed, _ = call(xr.api_url, "PutTraceSegments", TraceSegmentDocuments=awsdocs_documents())
        assert parsed["UnprocessedTraceSegments"] == []
        yield xr


def test_the_shape_checker_accepts_the_awsdocs_example_and_catches_a_bad_key() -> None:
    output = model().operation_model("GetServiceGraph").output_shape
    example = fixture("get-service-graph.awsdocs.json")
    assert raw_shape_errors(example, output) == []
    example["Services"][0]["Colour"] = "red"
    example["Services"][1]["StartTime"] = "yesterday"
    assert len(raw_shape_errors(example, output)) == 2


def all_services(xr: LocalXRay) -> list[dict]:
    """Every page, through boto3's paginator as the service-map Lambda reads it."""
    paginator = client(xr.api_url).get_paginator("get_service_graph")
    return [service for page in paginator.paginate(**WINDOW) for service in page["Services"]]


def test_awsdocs_segments_give_the_awsdocs_topology(xray: LocalXRay) -> None:
    services = all_services(xray)
    named = {s["ReferenceId"]: (s["Name"], s["Type"]) for s in services}
    edges = {
        (named[s["ReferenceId"]], named[e["ReferenceId"]]) for s in services for e in s["Edges"]
    }
    root = ("Scorekeep", "AWS::ElasticBeanstalk::Environment")
    # The awsdocs graph: client -> root -> DynamoDB table, and an SNS topic downstream.
    assert (("Scorekeep", "client"), root) in edges
    assert (root, ("scorekeep-user", "AWS::DynamoDB::Table")) in edges
    # This trace reaches SNS through its Lambda function, which X-Ray draws as two nodes.
    assert (root, ("random-name", "AWS::Lambda")) in edges
    assert (("random-name", "AWS::Lambda"), ("random-name", "AWS::Lambda::Function")) in edges
    assert (("random-name", "AWS::Lambda::Function"), ("SNS", "AWS::SNS")) in edges
    assert len(edges) == 5 and len(named) == 6
    # Same keys per kind of node as the awsdocs GetServiceGraph example.
    example = {s["Type"]: s for s in fixture("get-service-graph.awsdocs.json")["Services"]}
    ours = {s["Type"]: s for s in services}
    for kind in ("AWS::DynamoDB::Table", "AWS::SNS"):
        assert set(ours[kind]) == set(example[kind])
    table = ours["AWS::DynamoDB::Table"]
    assert table["SummaryStatistics"]["TotalCount"] == 1
    assert table["SummaryStatistics"]["TotalResponseTime"] == pytest.approx(0.079)


def test_service_graph_pages_with_next_token(xray: LocalXRay) -> None:
    first, raw = call(xray.api_url, "GetServiceGraph", **WINDOW)
    assert len(raw["Services"]) == 2 and "NextToken" in raw
    second, _ = call(xray.api_url, "GetServiceGraph", NextToken=raw["NextToken"], **WINDOW)
    assert {s["ReferenceId"] for s in second["Services"]}.isdisjoint(
        {s["ReferenceId"] for s in first["Services"]}
    )


def test_batch_get_traces_returns_stored_documents(xray: LocalXRay) -> None:
    missing = "1-59602603-000000000000000000000000"
    parsed, _ = call(xray.api_url, "BatchGetTraces", TraceIds=[TRACE_ID, missing])
    [trace] = parsed["Traces"]
    assert trace["Id"] == TRACE_ID and trace["Duration"] == pytest.approx(3.232)
    stored = {json.loads(s["Document"])["id"] for s in trace["Segments"]}
    assert stored == {json.loads(d)["id"] for d in awsdocs_documents()}
    assert parsed["UnprocessedTraceIds"] == [missing]


@pytest.mark.parametrize(
    ("expression", "matches"),
    [
        (None, True),
        ('service("random-name")', True),
        ('service("scorekeep-user")', True),
        ('service("elsewhere")', False),
        ('annotation.UserID = "5M388M1E"', True),
        ('annotation.UserID = "someone-else"', False),
        ("fault OR error", False),
        ("!fault AND ok", True),
        ("responsetime > 3 AND http.status = 200", True),
        ('(service("nope") OR annotation.Name = "Ola") AND http.url CONTAINS "/api/user"', True),
    ],
)
def test_trace_summaries_filter(xray: LocalXRay, expression: str | None, matches: bool) -> None:
    params = dict(WINDOW, **({"FilterExpression": expression} if expression else {}))
    parsed, _ = call(xray.api_url, "GetTraceSummaries", **params)
    assert [s["Id"] for s in parsed["TraceSummaries"]] == ([TRACE_ID] if matches else [])
    if matches:
        summary = parsed["TraceSummaries"][0]
        assert summary["Users"] == [{"UserName": "5M388M1E"}]
        assert summary["Annotations"]["Name"][0]["AnnotationValue"] == {"StringValue": "Ola"}


def test_trace_summaries_outside_the_window_are_empty(xray: LocalXRay) -> None:
    parsed, _ = call(xray.api_url, "GetTraceSummaries", StartTime=0, EndTime=1000)
    assert parsed["TraceSummaries"] == []


def test_trace_graph_and_groups(xray: LocalXRay) -> None:
    graph, _ = call(xray.api_url, "GetTraceGraph", TraceIds=[TRACE_ID])
    names = set()
    while True:
        names |= {s["Name"] for s in graph["Services"]}
        if "NextToken" not in graph:
            break
        graph, _ = call(
            xray.api_url, "GetTraceGraph", TraceIds=[TRACE_ID], NextToken=graph["NextToken"]
        )
    assert names == {"Scorekeep", "random-name", "scorekeep-user", "SNS"}
    groups, _ = call(xray.api_url, "GetGroups")
    assert [g["GroupName"] for g in groups["Groups"]] == ["Default"]
    group, _ = call(xray.api_url, "GetGroup", GroupName="Default")
    assert group["Group"]["GroupARN"] == groups["Groups"][0]["GroupARN"]


@pytest.mark.parametrize(
    ("path", "body", "error", "status", "says"),
    [
        ("/ServiceGraph", b"{}", "InvalidRequestException", 400, "StartTime"),
        (
            "/ServiceGraph",
            b'{"StartTime": "soon", "EndTime": 1}',
            "InvalidRequestException",
            400,
            "StartTime",
        ),
        (
            "/ServiceGraph",
            b'{"StartTime": 5, "EndTime": 1}',
            "InvalidRequestException",
            400,
            "EndTime",
        ),
        (
            "/ServiceGraph",
            b'{"StartTime": 1, "EndTime": 2, "NextToken": "zzz"}',
            "InvalidRequestException",
            400,
            "NextToken",
        ),
        (
            "/ServiceGraph",
            b'{"StartTime": 1, "EndTime": 2, "GroupName": "ops"}',
            "InvalidRequestException",
            400,
            "Group not found",
        ),
        ("/Traces", b'{"TraceIds": "1-2-3"}', "InvalidRequestException", 400, "TraceIds"),
        ("/Traces", b'{"TraceIds": [], "Colour": 1}', "InvalidRequestException", 400, "Colour"),
        ("/TraceSegments", b"{not json", "InvalidRequestException", 400, "not JSON"),
        ("/TraceSegments", b"[1, 2]", "InvalidRequestException", 400, "JSON object"),
        ("/TraceSegments", b"[" * 100_000, "InvalidRequestException", 400, "not JSON"),
        (
            "/TraceSummaries",
            b'{"StartTime": 1, "EndTime": 2, "FilterExpression": "fault AND"}',
            "InvalidRequestException",
            400,
            "FilterExpression",
        ),
        ("/GetGroup", b"{}", "InvalidRequestException", 400, "GroupName"),
        ("/Nowhere", b"{}", "UnknownOperationException", 404, "/Nowhere"),
    ],
)
def test_bad_requests_get_x_ray_errors_and_the_server_keeps_serving(
    xray: LocalXRay, path: str, body: bytes, error: str, status: int, says: str
) -> None:
    response = requests.post(xray.api_url + path, data=body, timeout=5)
    assert response.status_code == status
    assert response.headers["x-amzn-ErrorType"] == error
    assert says in response.json()["Message"]
    assert requests.post(xray.api_url + "/Groups", data=b"{}", timeout=5).status_code == 200


def test_boto3_sees_invalid_request_exception(xray: LocalXRay) -> None:
    # Client-side validation off, so the malformed call reaches the server as a user's might.
    no_validation = boto3.client(
        "xray",
        endpoint_url=xray.api_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )
    with pytest.raises(ClientError) as caught:
        no_validation.get_service_graph(StartTime=1)
    assert caught.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "EndTime" in caught.value.response["Error"]["Message"]


def test_put_trace_segments_stores_the_good_and_reports_the_bad(xray: LocalXRay) -> None:
    good = json.dumps(
        {
            "name": "alone",
            "id": "aaaaaaaaaaaaaaaa",
            "trace_id": "1-59602604-000000000000000000000001",
            "start_time": 1499480000.0,
            "end_time": 1499480000.5,
        }
    )
    no_id = json.dumps(
        {
            "name": "broken",
            "trace_id": "1-59602604-000000000000000000000002",
            "start_time": 1499480000.0,
            "end_time": 1499480001.0,
        }
    )
    # Nested past what the store allows (and past json's recursion limit): one entry too.
    deep = '{"id": "cccccccccccccccc"}'
    for _ in range(600):
        deep = f'{{"id": "dddddddddddddddd", "subsegments": [{deep}]}}'
    deep = f'{{"id": "eeeeeeeeeeeeeeee", "subsegments": [{deep}]}}'
    parsed, raw = call(
        xray.api_url, "PutTraceSegments", TraceSegmentDocuments=[good, no_id, "{truncated", deep]
    )
    unprocessed = parsed["UnprocessedTraceSegments"]
    assert [u["ErrorCode"] for u in unprocessed] == ["MissingId", "InvalidJson", "InvalidJson"]
    assert unprocessed[0]["Message"] == "id: required"
    assert unprocessed[2]["Id"] == ""  # too deep for json to read even its id
    stored, _ = call(
        xray.api_url,
        "BatchGetTraces",
        TraceIds=["1-59602604-000000000000000000000001", "1-59602604-000000000000000000000002"],
    )
    assert [t["Id"] for t in stored["Traces"]] == ["1-59602604-000000000000000000000001"]
    assert_valid_response("PutTraceSegments", raw, parsed)


def test_both_listeners_bind_loopback_by_default(xray: LocalXRay) -> None:
    assert xray.udp_address.startswith("127.0.0.1:")
    assert xray.api_url.startswith("http://127.0.0.1:")
    assert xray.daemon is not None and xray.http is not None
    assert xray.daemon.socket.getsockname()[0] == "127.0.0.1"
    assert xray.http.socket.getsockname()[0] == "127.0.0.1"
    assert xray.daemon.socket.type == socket.SOCK_DGRAM
    # The sampling rules, over TCP on the daemon's own address, as the X-Ray daemon serves them.
    assert xray.sampling_server is not None
    assert xray.sampling_server.socket.getsockname() == xray.daemon.socket.getsockname()
    assert xray.sampling_server.socket.type == socket.SOCK_STREAM


ROUTES = [
    "/TraceSegments",
    "/Traces",
    "/TraceSummaries",
    "/ServiceGraph",
    "/TraceGraph",
    "/Groups",
    "/GetGroup",
    "/GetSamplingRules",
    "/SamplingTargets",
]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "StartTime",
                    "EndTime",
                    "TraceIds",
                    "NextToken",
                    "GroupName",
                    "FilterExpression",
                    "TraceSegmentDocuments",
                    "SamplingStatisticsDocuments",
                    "RuleName",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    route=st.sampled_from(ROUTES),
    body=st.one_of(st.binary(max_size=200), JSON_VALUES.map(lambda v: json.dumps(v).encode())),
)
def test_any_body_gets_an_answer_never_a_crash(xray: LocalXRay, route: str, body: bytes) -> None:
    response = requests.post(xray.api_url + route, data=body, timeout=10)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.headers["x-amzn-ErrorType"] == "InvalidRequestException"
        assert response.json()["Message"]


def test_request_threads_do_not_leave_connections_behind(xray: LocalXRay) -> None:
    for _ in range(30):
        assert (
            requests.post(
                xray.api_url + "/Traces", json={"TraceIds": [TRACE_ID]}, timeout=5
            ).status_code
            == 200
        )
    assert xray.store is not None
    assert len(xray.store._connections) < 10


def test_sqs_link_edge_through_the_api_follows_the_service_model() -> None:
    queue = "https://sqs.us-east-1.amazonaws.com/123456789012/orders"
    trace = "1-65000000-00000000000000000000abcd"
    send = {
        "name": "SQS",
        "id": "5e0d000000000001",
        "namespace": "aws",
        "start_time": 1_700_000_000.01,
        "end_time": 1_700_000_000.05,
        "aws": {"operation": "SendMessage", "queue_url": queue},
    }
    producer = {
        "name": "shop",
        "id": "5e0d000000000000",
        "trace_id": trace,
        "start_time": 1_700_000_000.0,
        "end_time": 1_700_000_000.1,
        "subsegments": [send],
    }
    consumer = {
        "name": "fulfil",
        "id": "1a00000000000000",
        "trace_id": trace,
        "parent_id": send["id"],
        "origin": "AWS::Lambda",
        "start_time": 1_700_000_001.0,
        "end_time": 1_700_000_001.3,
    }
    function = {
        "name": "fulfil",
        "id": "1a00000000000001",
        "trace_id": trace,
        "parent_id": consumer["id"],
        "origin": "AWS::Lambda::Function",
        "start_time": 1_700_000_001.01,
        "end_time": 1_700_000_001.29,
    }
    with LocalXRay() as xr:
        call(
            xr.api_url,
            "PutTraceSegments",
            TraceSegmentDocuments=[json.dumps(d) for d in (producer, consumer, function)],
        )
        graph, raw = call(
            xr.api_url, "GetServiceGraph", StartTime=1_699_999_999, EndTime=1_700_000_002
        )
    named = {s["ReferenceId"]: (s["Name"], s["Type"]) for s in raw["Services"]}
    edges = {
        (named[s["ReferenceId"]], named[e["ReferenceId"]]): e
        for s in raw["Services"]
        for e in s["Edges"]
    }
    link = edges[((queue, "AWS::SQS::Queue"), ("fulfil", "AWS::Lambda"))]
    assert link["EdgeType"] == "link" and "ResponseTimeHistogram" not in link
    assert link["ReceivedEventAgeHistogram"] == [{"Value": 0.95, "Count": 1}]
    assert ((("shop", "service"), (queue, "AWS::SQS::Queue"))) in edges
    assert (("fulfil", "AWS::Lambda"), ("fulfil", "AWS::Lambda::Function")) in edges


def test_sampling_rules_and_targets_follow_the_service_model(xray: LocalXRay) -> None:
    rules, raw = call(xray.api_url, "GetSamplingRules")
    assert_valid_response("GetSamplingRules", raw, rules)
    (record,) = rules["SamplingRuleRecords"]
    assert record["SamplingRule"]["RuleName"] == "Default"
    assert record["SamplingRule"]["FixedRate"] == 1.0  # local default: every request
    now = time.time()
    statistics = [
        {
            "RuleName": name,
            "ClientID": "c" * 24,
            "Timestamp": now,
            "RequestCount": 10,
            "SampledCount": 10,
            "BorrowCount": 0,
        }
        for name in ("Default", "Missing")
    ]
    targets, raw = call(xray.api_url, "GetSamplingTargets", SamplingStatisticsDocuments=statistics)
    assert_valid_response("GetSamplingTargets", raw, targets)
    assert [t["RuleName"] for t in targets["SamplingTargetDocuments"]] == ["Default"]
    assert [u["RuleName"] for u in targets["UnprocessedStatistics"]] == ["Missing"]


# Documents X-Ray stores (every required field well formed) whose other fields have shapes no
# SDK writes: each is kept, and no operation over them fails or answers outside its model.
HOSTILE_FIELDS: list[dict] = [
    {"http": "x"},
    {"http": {"response": "x"}},
    {"http": {"response": {"status": "500"}}},
    {"http": {"response": {"status": 500.5}}},
    {"http": {"response": {"status": True}}},
    {"http": {"response": {"status": 10**30}}},
    {"http": {"request": {"url": 5}}},
    {"aws": [1]},
    {"aws": {"account_id": 5}},
    {"origin": 5},
    {"user": {"a": 1}},
    {"error": "yes"},
    {"fault": 1},
    {"cause": "0123456789abcdef"},
    {"cause": 5},
    {"cause": {"exceptions": [1, None, "x"]}},
    {"annotations": [1]},
    {"annotations": {"k": 10**30}},
    {"annotations": {"k": None}},
    {"metadata": 5},
    {"links": 5},
    {"links": {"trace_id": TRACE_ID}},
    {"links": [{"trace_id": 5, "id": None}]},
    {"end_time": 1499473450.0},
    {"namespace": "remote"},
    {"sql": 5},
    {"service": 5},
    {"precursor_ids": 5},
    {"inferred": True},
    {
        "subsegments": [
            {
                "id": "aaaaaaaaaaaaaaa1",
                "name": "x",
                "start_time": 1499473460.0,
                "end_time": 1499473461.0,
                "namespace": "remote",
                "http": {"request": {"url": "http://[bad"}},
            }
        ]
    },
    {
        "subsegments": [
            {
                "id": "aaaaaaaaaaaaaaa2",
                "name": "x",
                "start_time": 1499473460.0,
                "end_time": 1499473461.0,
                "namespace": "aws",
                "aws": {"table_name": 5, "queue_url": 5},
            }
        ]
    },
]
FILTERS = [
    "error",
    "fault",
    "throttle",
    "ok",
    "responsetime > 1",
    "http.status = 500",
    "annotation.k = 1",
    'service("hostile")',
    'http.url CONTAINS "x"',
    'user = "a"',
]


def test_documents_with_odd_but_storable_fields_are_kept_and_read_back() -> None:
    documents = [
        json.dumps(
            {
                "trace_id": f"1-59602603-{number:024x}",
                "id": f"{number:016x}",
                "name": "hostile",
                "start_time": 1499473460.0,
                "end_time": 1499473470.0,
                **fields,
            }
        )
        for number, fields in enumerate(HOSTILE_FIELDS, start=1)
    ]
    trace_ids = [json.loads(document)["trace_id"] for document in documents]
    with LocalXRay() as xr:
        parsed, _ = call(xr.api_url, "PutTraceSegments", TraceSegmentDocuments=documents)
        assert parsed["UnprocessedTraceSegments"] == []
        call(xr.api_url, "GetServiceGraph", **WINDOW)
        for expression in FILTERS:
            call(xr.api_url, "GetTraceSummaries", FilterExpression=expression, **WINDOW)
        for start in range(0, len(trace_ids), 5):
            parsed, _ = call(xr.api_url, "BatchGetTraces", TraceIds=trace_ids[start : start + 5])
            assert len(parsed["Traces"]) == len(trace_ids[start : start + 5])
            call(xr.api_url, "GetTraceGraph", TraceIds=trace_ids[start : start + 5])


def test_parent_cycles_are_stored_and_every_read_answers() -> None:
    """ids are X-Ray's to check, not their graph: segments and streamed subsegments whose
    parents form a cycle are stored, and no operation over them fails or hangs."""
    trace_id = "1-59602603-00000000000000000000c1c1"
    times = {"start_time": 1499473460.0, "end_time": 1499473461.0}

    def element(id_: str, parent: str, **fields: object) -> str:
        return json.dumps(
            {
                "trace_id": trace_id,
                "id": id_,
                "parent_id": parent,
                "name": "cycle",
                **times,
                **fields,
            }
        )

    documents = [
        element("c000000000000001", "c000000000000002", type="subsegment"),
        element("c000000000000002", "c000000000000001", type="subsegment"),
        element("d000000000000001", "d000000000000001"),
        element("d000000000000002", "d000000000000003"),
        element("d000000000000003", "d000000000000002"),
    ]
    with LocalXRay() as xr:
        parsed, _ = call(xr.api_url, "PutTraceSegments", TraceSegmentDocuments=documents)
        assert parsed["UnprocessedTraceSegments"] == []
        parsed, _ = call(xr.api_url, "BatchGetTraces", TraceIds=[trace_id])
        assert [trace["Id"] for trace in parsed["Traces"]] == [trace_id]
        call(xr.api_url, "GetTraceGraph", TraceIds=[trace_id])
        call(xr.api_url, "GetServiceGraph", **WINDOW)
        call(xr.api_url, "GetTraceSummaries", FilterExpression='service("cycle")', **WINDOW)
