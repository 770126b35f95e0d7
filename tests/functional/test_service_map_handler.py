"""The scheduled Lambda end to end: X-Ray through botocore's Stubber, S3 through moto,
metrics captured from Powertools' EMF output."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws
from service_map import handler as lambda_handler
from service_map.summary import summarise
from service_map.synthetic import generate_responses

FIXTURES = Path(__file__).parents[1] / "fixtures" / "xray"
SCHEMA = Path(lambda_handler.__file__).with_name("summary.schema.json")
BUCKET = "summaries"
EC2 = "AWS::EC2::Instance/xray-sample.elasticbeanstalk.com"
# Scheduled 12:05:30, a minute to settle: the window is 11:55 .. 12:00.
EVENT = {"detail-type": "Scheduled Event", "source": "aws.events", "time": "2025-01-01T12:05:30Z"}
WINDOW = (datetime(2025, 1, 1, 11, 55, tzinfo=UTC), datetime(2025, 1, 1, 12, 0, tzinfo=UTC))
PREFIX = "service-map/Default/2025/01/01/20250101T115500Z-20250101T120000Z/"


@dataclass
class Context:
    function_name: str = "ServiceMapFunction"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:ServiceMap"
    aws_request_id: str = "request-1"


def awsdocs() -> dict:
    return json.loads((FIXTURES / "get-service-graph.awsdocs.json").read_text())


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SUMMARY_BUCKET": BUCKET,
        "POWERTOOLS_SERVICE_NAME": "service-map",
        "POWERTOOLS_METRICS_NAMESPACE": "LambdaTracing",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        xray = boto3.client("xray")
        with Stubber(xray) as stub:
            monkeypatch.setattr(lambda_handler, "clients", lambda attempts: (xray, s3))
            yield stub, s3


def read(s3: Any, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def keys(s3: Any) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def emf(captured: str) -> list[dict]:
    blobs = [json.loads(line) for line in captured.splitlines() if line.startswith("{")]
    return [blob for blob in blobs if "_aws" in blob]


def test_writes_summary_latest_and_metrics(aws: Any, capsys: pytest.CaptureFixture) -> None:
    stub, s3 = aws
    stub.add_response(
        "get_service_graph",
        awsdocs(),
        {"StartTime": WINDOW[0], "EndTime": WINDOW[1], "GroupName": "Default"},
    )
    result = lambda_handler.handler(EVENT, Context())
    stub.assert_no_pending_responses()

    summary = read(s3, PREFIX + "summary.json")
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(summary)
    assert summary == summarise([awsdocs()], window=WINDOW)
    assert summary["window"] == {
        "start": "2025-01-01T11:55:00Z",
        "end": "2025-01-01T12:00:00Z",
        "seconds": 300,
    }
    root = next(node for node in summary["nodes"] if node["id"] == EC2)["statistics"]
    # 4 requests in 5 minutes = 0.8 a minute; p99 157 ms; 1 error of 4.
    assert (root["requests_per_minute"], root["p99_ms"], root["error_rate"]) == (0.8, 157.0, 0.25)
    mermaid = s3.get_object(Bucket=BUCKET, Key=PREFIX + "map.mmd")["Body"].read().decode()
    assert mermaid.startswith("flowchart LR")
    assert read(s3, "service-map/Default/latest.json") == {
        "group": "Default",
        "window": summary["window"],
        "complete": True,
        "summary_key": PREFIX + "summary.json",
        "files": {
            name: PREFIX + name for name in ("summary.json", "map.mmd", "map.svg", "map.html")
        },
    }
    assert result["groups"]["Default"][0]["summary_key"] == PREFIX + "summary.json"

    blobs = emf(capsys.readouterr().out)
    group = [b for b in blobs if b["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Group"]]]
    assert len(group) == 1
    # No faults anywhere: WorstFaultRate 0; slowest p99 157 ms; 4 requests into the root.
    # (EMF values are lists: Powertools can put several samples in one blob.)
    assert (group[0]["WorstFaultRate"], group[0]["WorstP99"], group[0]["Requests"]) == (
        [0],
        [157],
        [4],
    )
    assert group[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "LambdaTracing"
    assert "service" not in group[0]
    units = {m["Name"]: m["Unit"] for m in group[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units == {"WorstFaultRate": "Percent", "WorstP99": "Milliseconds", "Requests": "Count"}
    roots = [b for b in blobs if "Service" in b]
    assert [(b["Service"], b["Requests"], b["P99"]) for b in roots] == [
        ("xray-sample.elasticbeanstalk.com", [4], [157])
    ]
    edges = [b for b in blobs if "Source" in b]
    assert sorted(b["Target"] for b in edges) == sorted(
        [
            "SNS",
            "xray-sample.elasticbeanstalk.com",
            "awseb-e-dixzws4s9p-stack-StartupSignupsTable-4IMSMHAYX2BA",
        ]
    )


def test_rerunning_a_window_rewrites_the_same_objects(aws: Any) -> None:
    stub, s3 = aws
    stub.add_response("get_service_graph", awsdocs())
    lambda_handler.handler(EVENT, Context())
    first = keys(s3)
    stub.add_response("get_service_graph", awsdocs())
    lambda_handler.handler(EVENT, Context())
    assert keys(s3) == first
    assert len([key for key in keys(s3) if key.endswith("summary.json")]) == 1


def test_multi_chunk_multi_page_graph(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    stub, s3 = aws
    monkeypatch.setenv("SCHEDULE_MINUTES", "60")
    monkeypatch.setenv("CHUNK_HOURS", "0.25")  # four 15-minute chunks
    monkeypatch.setenv("METRICS_MAX_EDGES", "10")
    start = datetime(2025, 1, 1, 11, 0, tzinfo=UTC)
    responses = generate_responses(
        25, 100, chunks=4, page_size=10, start=start, chunk_length=timedelta(minutes=15)
    )
    for chunk, pages in enumerate(responses):
        begin = start + chunk * timedelta(minutes=15)
        for number, page in enumerate(pages):
            page = dict(page)
            params = {
                "StartTime": begin,
                "EndTime": begin + timedelta(minutes=15),
                "GroupName": "Default",
            }
            if number:
                params["NextToken"] = f"{chunk}-{number}"
            if number < len(pages) - 1:
                page["NextToken"] = f"{chunk}-{number + 1}"
            stub.add_response("get_service_graph", page, params)
    lambda_handler.handler(EVENT, Context())  # 12:05:30 -> window 11:00 .. 12:00
    stub.assert_no_pending_responses()

    key = "service-map/Default/2025/01/01/20250101T110000Z-20250101T120000Z/summary.json"
    summary = read(s3, key)
    every_page = [page for pages in responses for page in pages]
    assert summary == summarise(every_page, window=(start, start + timedelta(hours=1)))
    assert len(summary["nodes"]) == 25 and len(summary["edges"]) == 100
    # Requests of one call, summed by hand over the four chunks (ReferenceIds differ in each).
    names: dict[tuple[str, str], int] = {}
    for pages in responses:
        services = [s for page in pages for s in page["Services"]]
        by_reference = {s["ReferenceId"]: s["Name"] for s in services}
        for service in services:
            for edge in service["Edges"]:
                pair = (service["Name"], by_reference[edge["ReferenceId"]])
                names[pair] = names.get(pair, 0) + edge["SummaryStatistics"]["TotalCount"]
    for edge in summary["edges"]:
        assert edge["statistics"]["requests"] == names[(edge["source"], edge["target"])]


def test_metrics_cardinality_is_capped(
    aws: Any, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub, _ = aws
    monkeypatch.setenv("METRICS_MAX_EDGES", "2")
    stub.add_response("get_service_graph", awsdocs())
    lambda_handler.handler(EVENT, Context())
    edges = [b for b in emf(capsys.readouterr().out) if "Source" in b]
    # The busiest two of three: client -> EC2 (4 requests), then the 2-request edges by id.
    assert [b["Requests"] for b in edges] == [[4], [2]]


def test_several_groups(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    stub, s3 = aws
    monkeypatch.setenv("XRAY_GROUPS", "Default,payments")
    stub.add_response(
        "get_service_graph",
        awsdocs(),
        {"StartTime": WINDOW[0], "EndTime": WINDOW[1], "GroupName": "Default"},
    )
    stub.add_response(
        "get_service_graph",
        {"Services": []},
        {"StartTime": WINDOW[0], "EndTime": WINDOW[1], "GroupName": "payments"},
    )
    lambda_handler.handler(EVENT, Context())
    assert read(s3, "service-map/payments/latest.json")["group"] == "payments"
    empty = read(s3, read(s3, "service-map/payments/latest.json")["summary_key"])
    assert empty["nodes"] == [] and empty["group"] == "payments"


def test_a_call_that_keeps_failing_fails_with_nothing_complete(
    aws: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    stub, s3 = aws
    monkeypatch.setenv("SCHEDULE_MINUTES", "60")
    monkeypatch.setenv("CHUNK_HOURS", "0.5")  # two chunks; the second fails
    stub.add_response("get_service_graph", awsdocs())
    # What botocore raises once adaptive retries are spent (see test_service_map_reader).
    stub.add_client_error("get_service_graph", "ThrottledException", http_status_code=429)
    with pytest.raises(lambda_handler.ServiceMapFailed, match="ThrottledException"):
        lambda_handler.handler(EVENT, Context())
    assert "service-map/Default/latest.json" not in keys(s3)
    partial_key = "service-map/Default/2025/01/01/20250101T110000Z-20250101T120000Z/summary.json"
    partial = read(s3, partial_key)
    assert partial["complete"] is False and len(partial["nodes"]) == 4  # the first chunk kept
    assert emf(capsys.readouterr().out) == []  # no metrics for an incomplete window

    # Lambda retries the same event: the same window, now complete, at the same key.
    stub.add_response("get_service_graph", awsdocs())
    stub.add_response("get_service_graph", {"Services": []})
    lambda_handler.handler(EVENT, Context())
    assert read(s3, partial_key)["complete"] is True
    assert read(s3, "service-map/Default/latest.json")["summary_key"] == partial_key

    # Failing again later never replaces the complete summary with a partial one.
    stub.add_response("get_service_graph", {"Services": []})
    stub.add_client_error("get_service_graph", "ThrottledException", http_status_code=429)
    with pytest.raises(lambda_handler.ServiceMapFailed):
        lambda_handler.handler(EVENT, Context())
    assert read(s3, partial_key)["complete"] is True and len(read(s3, partial_key)["nodes"]) == 4


def test_an_s3_failure_loses_nothing(aws: Any) -> None:
    stub, s3 = aws
    at = ["2025-01-01T12:00:30Z", "2025-01-01T12:05:30Z", "2025-01-01T12:10:30Z"]
    stub.add_response("get_service_graph", awsdocs())
    lambda_handler.handler({"time": at[0]}, Context())  # writes 11:50 .. 11:55

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "PutObject")

    s3.meta.events.register("before-call.s3.PutObject", refuse)
    stub.add_response("get_service_graph", awsdocs())
    with pytest.raises(lambda_handler.ServiceMapFailed, match="ServiceUnavailable"):
        lambda_handler.handler({"time": at[1]}, Context())  # 11:55 .. 12:00 not written
    s3.meta.events.unregister("before-call.s3.PutObject", refuse)
    latest = read(s3, "service-map/Default/latest.json")
    assert latest["window"]["end"] == "2025-01-01T11:55:00Z"

    stub.add_response("get_service_graph", awsdocs())
    stub.add_response("get_service_graph", awsdocs())
    result = lambda_handler.handler({"time": at[2]}, Context())
    stub.assert_no_pending_responses()
    # The next run redid the missed window, then its own.
    assert [w["window"]["end"] for w in result["groups"]["Default"]] == [
        "2025-01-01T12:00:00Z",
        "2025-01-01T12:05:00Z",
    ]
    summaries = [key for key in keys(s3) if key.endswith("summary.json")]
    assert [key.split("/")[-2] for key in summaries] == [
        "20250101T115000Z-20250101T115500Z",
        "20250101T115500Z-20250101T120000Z",
        "20250101T120000Z-20250101T120500Z",
    ]
    assert read(s3, "service-map/Default/latest.json")["window"]["end"] == "2025-01-01T12:05:00Z"
    # Each summary compared itself with the window before it: nothing changed.
    assert read(s3, summaries[1])["changes"]["against"]["end"] == "2025-01-01T11:55:00Z"
    assert read(s3, summaries[2])["changes"]["regressions"] == []


def test_a_failing_picture_is_left_out_and_the_json_still_lands(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub, s3 = aws
    from service_map import pictures

    def broken(summary: dict) -> str:
        raise RuntimeError("no picture today")

    monkeypatch.setattr(pictures, "map_svg", broken)
    stub.add_response("get_service_graph", awsdocs())
    lambda_handler.handler(EVENT, Context())
    assert PREFIX + "summary.json" in keys(s3)
    assert PREFIX + "map.svg" not in keys(s3)
    assert PREFIX + "map.html" in keys(s3)


def test_reads_refused_without_list_bucket_count_as_missing(aws: Any) -> None:
    stub, s3 = aws

    def refuse(**_: Any) -> None:
        # What S3 answers for a missing key when the role lacks s3:ListBucket.
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "GetObject")

    s3.meta.events.register("before-call.s3.GetObject", refuse)
    stub.add_response("get_service_graph", awsdocs())
    lambda_handler.handler(EVENT, Context())
    s3.meta.events.unregister("before-call.s3.GetObject", refuse)
    assert read(s3, PREFIX + "summary.json")["changes"]["against"] is None
    assert read(s3, "service-map/Default/latest.json")["summary_key"] == PREFIX + "summary.json"


def page_with_dangling_edge() -> dict:
    """The awsdocs response with one more edge, to a ReferenceId it does not list."""
    response = awsdocs()
    response["Services"][0]["Edges"].append(
        dict(response["Services"][0]["Edges"][0], ReferenceId=999)
    )
    return response


def test_an_edge_to_an_unlisted_service_is_left_out_and_marked(aws: Any) -> None:
    stub, s3 = aws
    stub.add_response("get_service_graph", page_with_dangling_edge())
    lambda_handler.handler(EVENT, Context())
    summary = read(s3, PREFIX + "summary.json")
    assert summary["complete"] is False  # the summary covers less than X-Ray sent
    expected = summarise([awsdocs()], window=WINDOW)
    assert summary["nodes"] == expected["nodes"] and summary["edges"] == expected["edges"]
    assert read(s3, "service-map/Default/latest.json")["complete"] is False


def test_a_window_that_cannot_be_summarised_does_not_hold_up_later_ones(aws: Any) -> None:
    stub, s3 = aws
    s3.put_object(
        Bucket=BUCKET,
        Key="service-map/Default/latest.json",
        Body=json.dumps({"window": {"end": "2025-01-01T11:50:00Z"}}),
    )
    broken = awsdocs()
    broken["Services"][1]["SummaryStatistics"]["TotalCount"] = -1  # valid to botocore's model
    stub.add_response("get_service_graph", broken)  # 11:50-11:55
    stub.add_response("get_service_graph", awsdocs())  # 11:55-12:00
    stub.add_response("get_service_graph", awsdocs())  # 12:00-12:05
    later = dict(EVENT, time="2025-01-01T12:10:30Z")
    with pytest.raises(lambda_handler.ServiceMapFailed, match="1 window.*TotalCount"):
        lambda_handler.handler(later, Context())
    written = [key for key in keys(s3) if key.endswith("summary.json")]
    assert written == [
        "service-map/Default/2025/01/01/20250101T115500Z-20250101T120000Z/summary.json",
        "service-map/Default/2025/01/01/20250101T120000Z-20250101T120500Z/summary.json",
    ]
    assert read(s3, "service-map/Default/latest.json")["window"]["end"] == "2025-01-01T12:05:00Z"


def test_a_name_python_can_hold_but_utf8_cannot_is_written_escaped(aws: Any) -> None:
    stub, s3 = aws
    response = awsdocs()
    response["Services"][0]["Name"] = "api\ud800"  # a lone surrogate: valid JSON, valid str
    stub.add_response("get_service_graph", response)
    lambda_handler.handler(EVENT, Context())
    summary = read(s3, PREFIX + "summary.json")  # the JSON escape reads back as the name
    assert "api\ud800" in {node["name"] for node in summary["nodes"]}


def test_a_latest_pointer_from_the_future_is_ignored_not_obeyed(aws: Any) -> None:
    stub, s3 = aws
    s3.put_object(
        Bucket=BUCKET,
        Key="service-map/Default/latest.json",
        Body=json.dumps({"window": {"end": "2999-01-01T00:00:00Z"}}),
    )
    stub.add_response("get_service_graph", awsdocs())
    lambda_handler.handler(EVENT, Context())
    assert read(s3, "service-map/Default/latest.json")["summary_key"] == PREFIX + "summary.json"


def test_a_partial_read_whose_edges_point_at_the_unread_page_is_still_kept(aws: Any) -> None:
    """Page 1's edges name services that only page 2 lists, and page 2 is never read: the
    pages read are still written, marked incomplete, as SUMMARY.md says."""
    stub, s3 = aws
    whole = awsdocs()
    first = {**whole, "Services": whole["Services"][:2], "NextToken": "page-2"}
    stub.add_response("get_service_graph", first)
    stub.add_client_error("get_service_graph", "ThrottledException", http_status_code=429)
    with pytest.raises(lambda_handler.ServiceMapFailed, match="ThrottledException"):
        lambda_handler.handler(EVENT, Context())
    partial = read(s3, PREFIX + "summary.json")
    assert partial["complete"] is False
    assert {node["name"] for node in partial["nodes"]} == {s["Name"] for s in first["Services"]}
