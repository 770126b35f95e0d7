"""AWS calls through the patched botocore against a moto server, captured over real UDP.

One child process (downstream_functions.aws_calls) is the Lambda function: patches applied as
at layer start-up, then one call per service inside an invocation whose `_X_AMZN_TRACE_ID`
carries a Lineage key. Each call must be a schema-valid `aws` subsegment with the fields X-Ray
draws its node from, and must carry the trace to where the service hands it on.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs

import pytest
from downstream_support import UdpDaemon, flatten, moto_server, new_trace_header, run_function

LINEAGE = "Lineage=a87bd80c:1"


@pytest.fixture(scope="module")
def run() -> dict[str, Any]:
    daemon = UdpDaemon()
    header, root, parent = new_trace_header(extra=f";{LINEAGE}")
    try:
        with moto_server() as endpoint:
            result = run_function(
                "aws_calls",
                {
                    "_X_AMZN_TRACE_ID": header,
                    "AWS_XRAY_DAEMON_ADDRESS": daemon.address,
                    "AWS_ENDPOINT_URL": endpoint,
                },
            )
        expected = len(result["ids"]) - 3  # keys that are not calls: 2 sequence, 1 error
        documents = daemon.wait_for(lambda docs: len(flatten(docs)) >= expected, timeout=30)
    finally:
        daemon.close()
    return {**result, "documents": documents, "root": root, "parent": parent}


def by_request_id(run: dict[str, Any], key: str) -> dict[str, Any]:
    request_id = run["ids"][key]
    found = [
        e for e in flatten(run["documents"]) if (e.get("aws") or {}).get("request_id") == request_id
    ]
    assert len(found) == 1, f"{key}: {len(found)} subsegments for request {request_id}"
    return found[0]


def parse_header(value: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in value.split(";"))


def sent_by(run: dict[str, Any], subsegment: dict[str, Any]) -> dict[str, Any]:
    """The request botocore sent inside `subsegment`: its X-Amzn-Trace-Id names it as Parent."""
    matching = [
        request
        for request in run["sent"]
        if parse_header(request["headers"].get("X-Amzn-Trace-Id", "Parent=-")).get("Parent")
        == subsegment["id"]
    ]
    assert len(matching) == 1
    return matching[0]


NODE_FIELDS = {
    "dynamodb.PutItem": ("dynamodb", "PutItem", {"table_name": "orders"}),
    "sqs.SendMessage": ("sqs", "SendMessage", {"queue_url": "$queue_url"}),
    "sqs.SendMessageBatch": ("sqs", "SendMessageBatch", {"queue_url": "$queue_url"}),
    "sns.Publish": ("sns", "Publish", {"topic_arn": "$topic_arn"}),
    "events.PutEvents": ("events", "PutEvents", {"event_bus_name": "orders-bus"}),
    "kinesis.PutRecord": (
        "kinesis",
        "PutRecord",
        {"stream_name": "orders-stream", "shard_id": "shardId-000000000000"},
    ),
    "s3.PutObject": ("s3", "PutObject", {"bucket_name": "orders-bucket", "key": "a.json"}),
    "lambda.Invoke": ("lambda", "Invoke", {"function_name": "orders-fn"}),
}


@pytest.mark.parametrize("key", sorted(NODE_FIELDS))
def test_each_call_is_a_valid_aws_node(
    run: dict[str, Any], key: str, segment_validator: Any
) -> None:
    name, operation, fields = NODE_FIELDS[key]
    subsegment = by_request_id(run, key)
    assert subsegment["name"] == name
    assert subsegment["namespace"] == "aws"
    assert subsegment["trace_id"] == run["root"]
    assert subsegment["parent_id"] == run["parent"]  # the function's segment
    aws = subsegment["aws"]
    assert aws["operation"] == operation
    assert aws["region"] == "us-east-1"
    for field, value in fields.items():
        assert aws[field] == (run[value[1:]] if value.startswith("$") else value)
    assert subsegment["http"]["response"]["status"] in (200, 202)
    assert subsegment["end_time"] >= subsegment["start_time"]


def test_every_emitted_document_is_schema_valid(
    run: dict[str, Any], segment_validator: Any
) -> None:
    assert run["documents"]
    for document in run["documents"]:
        errors = [error.message for error in segment_validator.iter_errors(document)]
        assert errors == [], document
        assert document["type"] == "subsegment"


def test_kinesis_records_the_sequence_numbers_the_consumer_will_see(run: dict[str, Any]) -> None:
    aws = by_request_id(run, "kinesis.PutRecord")["aws"]
    assert aws["sequence_number"] == run["ids"]["kinesis.sequence_number"]
    batch = by_request_id(run, "kinesis.PutRecords")["aws"]
    assert batch["operation"] == "PutRecords" and batch["stream_name"] == "orders-stream"
    assert (batch["record_count"], batch["failed_record_count"]) == (3, 0)
    assert [r["sequence_number"] for r in batch["records"]] == run["ids"][
        "kinesis.sequence_numbers"
    ]


def test_every_aws_request_carries_its_subsegment_as_parent(run: dict[str, Any]) -> None:
    for key in NODE_FIELDS:
        subsegment = by_request_id(run, key)
        header = parse_header(sent_by(run, subsegment)["headers"]["X-Amzn-Trace-Id"])
        assert header == {
            "Root": run["root"],
            "Parent": subsegment["id"],
            "Sampled": "1",
            LINEAGE.split("=")[0]: LINEAGE.split("=")[1],
        }


def expected_trace(run: dict[str, Any], key: str) -> dict[str, str]:
    subsegment = by_request_id(run, key)
    return {
        "Root": run["root"],
        "Parent": subsegment["id"],
        "Sampled": "1",
        "Lineage": "a87bd80c:1",
    }


def test_sqs_messages_carry_the_aws_trace_header_system_attribute(run: dict[str, Any]) -> None:
    single = json.loads(sent_by(run, by_request_id(run, "sqs.SendMessage"))["body"])
    value = single["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"]
    assert parse_header(value) == expected_trace(run, "sqs.SendMessage")
    batch = json.loads(sent_by(run, by_request_id(run, "sqs.SendMessageBatch"))["body"])
    assert len(batch["Entries"]) == 3
    for entry in batch["Entries"]:
        value = entry["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"]
        assert parse_header(value) == expected_trace(run, "sqs.SendMessageBatch")


def test_sns_carries_the_trace_as_a_message_attribute_within_the_limit(run: dict[str, Any]) -> None:
    publish = parse_qs(sent_by(run, by_request_id(run, "sns.Publish"))["body"])
    assert publish["MessageAttributes.entry.1.Name"] == ["AWSTraceHeader"]
    value = publish["MessageAttributes.entry.1.Value.StringValue"][0]
    assert parse_header(value) == expected_trace(run, "sns.Publish")
    # A message already at SNS's 10 attributes is sent unchanged.
    full = parse_qs(sent_by(run, by_request_id(run, "sns.Publish.full"))["body"])
    names = [v[0] for k, v in full.items() if k.endswith(".Name")]
    assert sorted(names) == [f"a{i}" for i in range(10)]
    # And what SNS delivered (raw, to an SQS subscriber) still names the Publish subsegment.
    delivered = [attrs for attrs in run["via_sns"] if "AWSTraceHeader" in attrs]
    assert len(delivered) == 1
    value = delivered[0]["AWSTraceHeader"]["StringValue"]
    assert parse_header(value) == expected_trace(run, "sns.Publish")


def test_eventbridge_entries_carry_the_trace_header(run: dict[str, Any]) -> None:
    body = json.loads(sent_by(run, by_request_id(run, "events.PutEvents"))["body"])
    (entry,) = body["Entries"]
    assert parse_header(entry["TraceHeader"]) == expected_trace(run, "events.PutEvents")


def test_synchronous_invoke_carries_the_trace_in_the_client_context(run: dict[str, Any]) -> None:
    sent = sent_by(run, by_request_id(run, "lambda.Invoke"))
    context = json.loads(base64.b64decode(sent["headers"]["X-Amz-Client-Context"]))
    assert parse_header(context["custom"]["X-Amzn-Trace-Id"]) == expected_trace(
        run, "lambda.Invoke"
    )
    asynchronous = sent_by(run, by_request_id(run, "lambda.Invoke.event"))
    assert "X-Amz-Client-Context" not in asynchronous["headers"]  # Lambda would drop it
    assert parse_header(asynchronous["headers"]["X-Amzn-Trace-Id"])["Root"] == run["root"]


def test_a_failed_call_is_recorded_and_its_exception_reaches_the_caller(
    run: dict[str, Any],
) -> None:
    assert run["ids"]["dynamodb.GetItem.error"] == "ResourceNotFoundException"
    subsegment = [
        e
        for e in flatten(run["documents"])
        if (e.get("aws") or {}).get("request_id") == run["ids"]["dynamodb.GetItem.request_id"]
    ][0]
    assert subsegment["aws"]["operation"] == "GetItem"
    assert subsegment["aws"]["table_name"] == "missing"
    assert subsegment["http"]["response"]["status"] == 400
    assert subsegment["error"] is True
    (exception,) = subsegment["cause"]["exceptions"]
    assert exception["type"] == "ResourceNotFoundException"
    assert exception["remote"] is True


def test_x_rays_own_api_is_never_traced(run: dict[str, Any]) -> None:
    entities = flatten(run["documents"])
    assert not [e for e in entities if e["name"] == "xray"]
    urls = [(e.get("http") or {}).get("request", {}).get("url", "") for e in entities]
    assert not [url for url in urls if "TraceSummaries" in url]


def test_nothing_but_the_calls_is_recorded(run: dict[str, Any]) -> None:
    # No urllib3 duplicate under each botocore call: one subsegment per AWS request.
    entities = flatten(run["documents"])
    assert all(e.get("namespace") == "aws" for e in entities), [e["name"] for e in entities]
    assert run["patched"] == ["botocore", "requests", "httpx", "urllib3"]


def test_sampled_0_records_nothing_and_still_propagates_the_decision() -> None:
    daemon = UdpDaemon()
    header, root, parent = new_trace_header(sampled=0, extra=f";{LINEAGE}")
    try:
        with moto_server() as endpoint:
            result = run_function(
                "unsampled_aws",
                {
                    "_X_AMZN_TRACE_ID": header,
                    "AWS_XRAY_DAEMON_ADDRESS": daemon.address,
                    "AWS_ENDPOINT_URL": endpoint,
                },
            )
        documents = daemon.wait_for(lambda docs: False, timeout=0.5)
    finally:
        daemon.close()
    assert documents == []
    (request,) = result["sent"]
    expected = {"Root": root, "Parent": parent, "Sampled": "0", "Lineage": "a87bd80c:1"}
    assert parse_header(request["headers"]["X-Amzn-Trace-Id"]) == expected
    body = json.loads(request["body"])
    assert (
        parse_header(body["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"]) == expected
    )
