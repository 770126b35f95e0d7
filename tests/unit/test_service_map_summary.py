"""The summary of real GetServiceGraph examples, checked by hand, and its JSON Schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
from service_map.errors import InputError
from service_map.summary import load_pages, node_id, summarise

FIXTURES = Path(__file__).parents[1] / "fixtures" / "xray"
SCHEMA = (
    Path(__file__).parents[2] / "functions" / "service_map" / "service_map" / "summary.schema.json"
)
EC2 = "AWS::EC2::Instance/xray-sample.elasticbeanstalk.com"
CLIENT = "client/xray-sample.elasticbeanstalk.com"
TABLE = "AWS::DynamoDB::Table/awseb-e-dixzws4s9p-stack-StartupSignupsTable-4IMSMHAYX2BA"
SNS = "AWS::SNS/SNS"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"get-service-graph.{name}.json").read_text())


def validate(summary: dict) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(summary)


@pytest.fixture(scope="module")
def awsdocs() -> dict:
    return summarise(load_pages(json.dumps(fixture("awsdocs"))))


def by_id(items: list[dict]) -> dict[str, dict]:
    return {item["id"]: item for item in items}


def test_awsdocs_window_and_shape(awsdocs: dict) -> None:
    # No page-level times in the example: the window is its services' 1528317567 .. 1528317589.
    assert awsdocs["window"] == {
        "start": "2018-06-06T20:39:27Z",
        "end": "2018-06-06T20:39:49Z",
        "seconds": 22,
    }
    assert awsdocs["group"] == "Default"
    assert awsdocs["complete"] is True
    assert awsdocs["contains_old_group_versions"] is False
    assert sorted(n["id"] for n in awsdocs["nodes"]) == sorted([EC2, CLIENT, TABLE, SNS])
    assert sorted(e["id"] for e in awsdocs["edges"]) == sorted(
        [f"{CLIENT} -> {EC2}", f"{EC2} -> {TABLE}", f"{EC2} -> {SNS}"]
    )
    validate(awsdocs)


def test_awsdocs_root_node_by_hand(awsdocs: dict) -> None:
    node = by_id(awsdocs["nodes"])[EC2]
    assert node["root"] is True and node["client"] is False
    stats = node["statistics"]
    # TotalCount 4 = OkCount 3 + ErrorStatistics.OtherCount 1; no throttles, no faults.
    assert (stats["requests"], stats["ok"], stats["errors"]) == (4, 3, 1)
    assert (stats["throttles"], stats["faults"]) == (0, 0)
    # 4 requests over 22 s = 4 / (22/60) = 10.909090.. per minute.
    assert stats["requests_per_minute"] == pytest.approx(10.909091, abs=1e-6)
    # rates over 4 requests: ok 3/4, errors 1/4.
    assert (stats["ok_rate"], stats["error_rate"], stats["fault_rate"]) == (0.75, 0.25, 0.0)
    # mean = TotalResponseTime 0.273 s / 4 x 1000 = 68.25 ms.
    assert stats["mean_ms"] == 68.25
    # Histogram sorted: 0.005, 0.015, 0.096, 0.157 (one each, N = 4).
    # p50 rank ceil(0.5 x 4) = 2 -> 0.015 s; p90 rank ceil(3.6) = 4 -> 0.157 s;
    # p95 rank ceil(3.8) = 4 and p99 rank ceil(3.96) = 4 -> 0.157 s.
    assert (stats["p50_ms"], stats["p90_ms"], stats["p95_ms"], stats["p99_ms"]) == (
        15.0,
        157.0,
        157.0,
        157.0,
    )
    # 4xx rate 25% >= 20%: failing by Kiali's defaults.
    assert node["health"] == "failing"


def test_awsdocs_table_node_and_edges_by_hand(awsdocs: dict) -> None:
    table = by_id(awsdocs["nodes"])[TABLE]["statistics"]
    # 2 requests, 0.12 s in all -> mean 60 ms; histogram 0.044, 0.076:
    # p50 rank ceil(1.0) = 1 -> 44 ms; p90/p95/p99 rank 2 -> 76 ms.
    assert (table["requests"], table["mean_ms"]) == (2, 60.0)
    assert (table["p50_ms"], table["p99_ms"]) == (44.0, 76.0)
    edges = by_id(awsdocs["edges"])
    to_sns = edges[f"{EC2} -> {SNS}"]
    # 0.125 s / 2 = 62.5 ms; histogram 0.049, 0.076 -> p50 49 ms, p99 76 ms.
    assert to_sns["statistics"]["mean_ms"] == 62.5
    assert (to_sns["statistics"]["p50_ms"], to_sns["statistics"]["p99_ms"]) == (49.0, 76.0)
    assert to_sns["source"] == "xray-sample.elasticbeanstalk.com" and to_sns["target"] == "SNS"
    assert to_sns["async"] is False and to_sns["event_age_p99_ms"] is None
    assert to_sns["health"] == "ok"
    # The client carries no statistics; its edge holds the EC2 root's numbers.
    client = by_id(awsdocs["nodes"])[CLIENT]
    assert client["client"] is True and client["statistics"] is None and client["health"] is None
    assert edges[f"{CLIENT} -> {EC2}"]["statistics"]["p90_ms"] == 157.0


def test_awsdocs_top(awsdocs: dict) -> None:
    slowest = awsdocs["top"]["slowest_edges"]
    # p99: client->EC2 157 ms, then the two 76 ms edges in id order.
    assert [e["p99_ms"] for e in slowest] == [157.0, 76.0, 76.0]
    assert slowest[0]["id"] == f"{CLIENT} -> {EC2}"
    assert [n["id"] for n in awsdocs["top"]["most_failing_nodes"]] == [EC2]


def test_grafana_lambda_sqs_example() -> None:
    summary = summarise(load_pages(fixture("lambda-sqs.grafana")))
    validate(summary)
    nodes = by_id(summary["nodes"])
    # Two ProcessSQSRecord nodes (AWS::Lambda and AWS::Lambda::Function, account "1") and
    # two SampleSite nodes (client and environment) stay apart: merged by (Name, Type, Account).
    assert "AWS::Lambda/ProcessSQSRecord" in nodes
    assert "1/AWS::Lambda::Function/ProcessSQSRecord" in nodes
    assert nodes["client/SampleSite"]["statistics"] is None
    site = nodes["AWS::ElasticBeanstalk::Environment/SampleSite"]["statistics"]
    # 711 of 3553 are 4xx: 20.01% >= 20% -> failing. 16 histogram entries, N = 3553:
    # sorted 0 x147, 0.001 x497, 0.002 x33, 0.044 x36, 0.501 x333 (cum 1046), 0.502 x2326
    # (cum 3372), 0.503 x160 (cum 3532) ... p50 rank 1777 -> 502 ms; p95 rank 3376 -> 503 ms.
    assert (site["p50_ms"], site["p95_ms"]) == (502.0, 503.0)
    assert nodes["AWS::ElasticBeanstalk::Environment/SampleSite"]["health"] == "failing"
    # The queue -> Lambda edge has SummaryStatistics {}: zero requests, no percentiles.
    queue = "AWS::SQS::Queue/https://sqs.us-east-1.amazonaws.com/123456789012/SampleQueue"
    edge = by_id(summary["edges"])[f"{queue} -> AWS::Lambda/ProcessSQSRecord"]
    assert edge["statistics"]["requests"] == 0 and edge["statistics"]["p99_ms"] is None


def test_pages_of_one_response_share_reference_ids() -> None:
    whole = fixture("awsdocs")
    window = {"StartTime": 1528317567.0, "EndTime": 1528317589.0}
    first = {**window, "Services": whole["Services"][:2], "NextToken": "t"}
    second = {**window, "Services": whole["Services"][2:]}
    # Page 1's client edge points at ReferenceId 2, which only page 2 defines.
    assert summarise([first, second])["edges"] == summarise([{**window, **whole}])["edges"]


def test_chunks_merge_by_name_type_account_not_reference_id() -> None:
    one = fixture("awsdocs")
    two = copy.deepcopy(one)
    # The second response numbers its services the other way round.
    for service in two["Services"]:
        service["ReferenceId"] = 10 - service["ReferenceId"]
        for edge in service["Edges"]:
            edge["ReferenceId"] = 10 - edge["ReferenceId"]
    pages = [
        {"StartTime": 0.0, "EndTime": 60.0, **one},
        {"StartTime": 60.0, "EndTime": 120.0, "ContainsOldGroupVersions": True, **two},
    ]
    summary = summarise(pages)
    assert summary["window"]["seconds"] == 120
    assert summary["contains_old_group_versions"] is True
    assert len(summary["nodes"]) == 4 and len(summary["edges"]) == 3
    stats = by_id(summary["nodes"])[EC2]["statistics"]
    # Doubled counts; each histogram entry now counts 2: N = 8, p50 rank 4 -> 0.015 s.
    assert (stats["requests"], stats["errors"], stats["mean_ms"]) == (8, 2, 68.25)
    assert (stats["p50_ms"], stats["p99_ms"]) == (15.0, 157.0)
    assert stats["requests_per_minute"] == 4.0


def test_window_override_and_incomplete_flag() -> None:
    from datetime import UTC, datetime

    start, end = datetime(2025, 1, 1, 12, 0, tzinfo=UTC), datetime(2025, 1, 1, 12, 5, tzinfo=UTC)
    summary = summarise([fixture("awsdocs")], window=(start, end), complete=False, group="g")
    assert summary["window"] == {
        "start": "2025-01-01T12:00:00Z",
        "end": "2025-01-01T12:05:00Z",
        "seconds": 300,
    }
    assert summary["complete"] is False and summary["group"] == "g"
    validate(summary)


def test_changes_against_previous(awsdocs: dict) -> None:
    later = fixture("awsdocs")
    services = {s["Name"] + s["Type"]: s for s in later["Services"]}
    ec2 = services["xray-sample.elasticbeanstalk.comAWS::EC2::Instance"]
    ec2["Edges"] = [e for e in ec2["Edges"] if e["ReferenceId"] != 3]  # SNS call gone
    ec2["SummaryStatistics"]["FaultStatistics"] = {"OtherCount": 1, "TotalCount": 1}
    ec2["ResponseTimeHistogram"].append({"Value": 0.9, "Count": 1})
    later["Services"].remove(services["SNSAWS::SNS"])
    summary = summarise([later], previous=awsdocs)
    changes = summary["changes"]
    assert changes["against"] == {
        "start": awsdocs["window"]["start"],
        "end": awsdocs["window"]["end"],
    }
    assert changes["nodes_gone"] == [SNS] and changes["nodes_added"] == []
    assert changes["edges_gone"] == [f"{EC2} -> {SNS}"] and changes["edges_added"] == []
    # p99 157 -> 900 ms (+743 ms, +473%); fault rate 0 -> 1/4 = 25 points.
    assert {(r["id"], r["metric"], r["before"], r["after"]) for r in changes["regressions"]} == {
        (EC2, "p99_ms", 157.0, 900.0),
        (EC2, "fault_rate", 0.0, 0.25),
    }
    validate(summary)


def test_no_previous_means_no_changes(awsdocs: dict) -> None:
    assert awsdocs["changes"]["against"] is None
    assert summarise([fixture("awsdocs")], previous={"junk": 1})["changes"]["against"] is None


def test_node_id_includes_account_when_known() -> None:
    assert node_id(("f", "AWS::Lambda::Function", "123")) == "123/AWS::Lambda::Function/f"
    assert node_id(("f", "AWS::Lambda::Function", None)) == "AWS::Lambda::Function/f"


def bad(change) -> str:  # type: ignore[no-untyped-def]
    page = fixture("awsdocs")
    change(page)
    with pytest.raises(InputError) as caught:
        load_pages(page)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_load_pages_accepts_text_bytes_object_and_list() -> None:
    text = (FIXTURES / "get-service-graph.awsdocs.json").read_text()
    assert load_pages(text) == [json.loads(text)]
    assert load_pages(text.encode()) == [json.loads(text)]
    assert load_pages(f"[{text}, {text}]") == [json.loads(text)] * 2


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{not json", "not JSON"),
        ("42", "JSON int"),
        ("[]", "empty list"),
        ("[1]", "page 1 is a JSON int"),
        ('{"Services": 3}', "Services is missing or not a list"),
        ('{"Services": [{"Name": "a"}]}', "Name and Type"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_load_pages_rejects_bad_files(text: str | bytes, words: str) -> None:
    with pytest.raises(InputError, match=words):
        load_pages(text)


def test_load_pages_names_histogram_and_count_problems() -> None:
    def negative(page: dict) -> None:
        page["Services"][1]["ResponseTimeHistogram"][0]["Count"] = -1

    assert "page 1, Services[1]: histogram count -1" in bad(negative)

    def not_a_number(page: dict) -> None:
        page["Services"][2]["Edges"][0]["ResponseTimeHistogram"][0]["Value"] = "fast"

    assert "Services[2], Edges[0]: histogram value 'fast'" in bad(not_a_number)

    def negative_total(page: dict) -> None:
        page["Services"][3]["SummaryStatistics"]["TotalCount"] = -4

    assert "TotalCount -4" in bad(negative_total)

    def not_an_id(page: dict) -> None:
        page["Services"][2]["Edges"][0]["ReferenceId"] = "99"

    assert "ReferenceId '99' is not an integer" in bad(not_an_id)

    def bad_time(page: dict) -> None:
        page["StartTime"] = "yesterday"

    assert "StartTime" in bad(bad_time)


def test_an_edge_to_an_unlisted_service_is_left_out_and_the_summary_marked(
    awsdocs: dict,
) -> None:
    """X-Ray's own inconsistency (or a response read in part) costs that edge, not the
    window: the rest is summarised, marked incomplete."""
    page = fixture("awsdocs")
    page["Services"][2]["Edges"][0]["ReferenceId"] = 99
    summary = summarise([page])
    whole = awsdocs
    assert summary["complete"] is False and whole["complete"] is True
    assert len(summary["edges"]) == len(whole["edges"]) - 1


def test_no_times_at_all_is_an_input_error() -> None:
    with pytest.raises(InputError, match="window is unknown"):
        summarise([{"Services": []}])


def test_times_as_aws_cli_v2_prints_them() -> None:
    # AWS CLI v2 prints timestamps as ISO 8601 with an offset; v1 as epoch numbers.
    page = {**fixture("awsdocs"), "StartTime": "2018-06-06T22:39:27+02:00"}
    page["EndTime"] = "2018-06-06T20:39:49.500000+00:00"
    summary = summarise(load_pages([page]))
    assert summary["window"] == {
        "start": "2018-06-06T20:39:27Z",
        "end": "2018-06-06T20:39:49.500Z",
        "seconds": 22.5,
    }
    validate(summary)
