"""Two functions joined through SQS (moto): the producer's trace reaches every consumed record.

The producer (its own process, patched as by the layer) sends 10 messages (one SendMessage each:
moto drops system attributes on SendMessageBatch, whose wire format test_downstream_aws checks).
The messages are received for real from moto, with their AWSTraceHeader system attribute, and
turned into the event Lambda's SQS poller would deliver. The consumer (another process, another
trace) iterates it with `lambda_tracing.records`: each of the 10 records gets its own subsegment
linking to the producer's trace and to the very SQS subsegment that sent it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from downstream_support import UdpDaemon, flatten, moto_server, new_trace_header, run_function


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


def receive_all(sqs: Any, queue_url: str, count: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while len(messages) < count:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=600,  # never handed out twice, however slow the machine
            AttributeNames=["All"],
            MessageSystemAttributeNames=["AWSTraceHeader"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        assert batch, "queue ran dry"
        messages.extend(batch)
    return messages


def lambda_sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping builds from received messages."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message["Attributes"],
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for message in messages
        ]
    }


@pytest.fixture(scope="module")
def two_functions(endpoint: str) -> dict[str, Any]:
    sqs = boto3.client(
        "sqs",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    queue_url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    daemon = UdpDaemon()
    try:
        producer_header, producer_root, _ = new_trace_header()
        environment = {"AWS_XRAY_DAEMON_ADDRESS": daemon.address, "AWS_ENDPOINT_URL": endpoint}
        produced = run_function(
            "sqs_producer",
            {**environment, "_X_AMZN_TRACE_ID": producer_header, "QUEUE_URL": queue_url},
        )
        event = lambda_sqs_event(receive_all(sqs, queue_url, 10), queue_arn)
        consumer_header, consumer_root, consumer_parent = new_trace_header()
        consumed = run_function(
            "sqs_consumer", {**environment, "_X_AMZN_TRACE_ID": consumer_header}, json.dumps(event)
        )
        documents = daemon.wait_for(
            lambda docs: len([e for e in flatten(docs) if e["name"] == "dynamodb"]) >= 10,
            timeout=30,
        )
    finally:
        daemon.close()
    entities = flatten(documents)
    return {
        "produced": produced,
        "consumed": consumed,
        "event": event,
        "documents": documents,
        "producer": [e for e in entities if e["trace_id"] == producer_root],
        "consumer": [e for e in entities if e["trace_id"] == consumer_root],
        "producer_root": producer_root,
        "consumer_parent": consumer_parent,
    }


def test_the_event_holds_ten_records_with_the_producers_trace(
    two_functions: dict[str, Any],
) -> None:
    records = two_functions["event"]["Records"]
    assert sorted(r["messageId"] for r in records) == sorted(
        two_functions["produced"]["message_ids"]
    ), records
    for record in records:
        assert (
            record["attributes"]
            .get("AWSTraceHeader", "")
            .startswith(f"Root={two_functions['producer_root']};")
        ), record


def test_every_record_links_to_the_producer_and_its_sending_subsegment(
    two_functions: dict[str, Any],
) -> None:
    sending = {
        e["aws"]["message_id"]: e["id"] for e in two_functions["producer"] if e["name"] == "sqs"
    }
    assert len(sending) == 10
    records = [e for e in two_functions["consumer"] if e["name"] == "## record"]
    assert len(records) == 10
    linked_messages = []
    for record in records:
        assert record["parent_id"] == two_functions["consumer_parent"]
        assert record["annotations"]["upstream_trace_ids"] == two_functions["producer_root"]
        assert record["annotations"]["event_source"] == "aws:sqs"
        (link,) = record["metadata"]["lambda_tracing"]["links"]
        assert link["trace_id"] == two_functions["producer_root"]
        assert link["parent_id"] == sending[link["record_id"]]  # the call that sent this message
        assert link["sampled"] == 1
        assert link["record_id"] == record["annotations"]["record_id"]
        linked_messages.append(link["record_id"])
    assert sorted(linked_messages) == sorted(two_functions["produced"]["message_ids"])
    assert two_functions["consumed"]["processed"] == [
        r["messageId"] for r in two_functions["event"]["Records"]
    ]


def test_work_done_for_a_record_is_a_child_of_that_records_subsegment(
    two_functions: dict[str, Any],
) -> None:
    records = {e["id"] for e in two_functions["consumer"] if e["name"] == "## record"}
    writes = [e for e in two_functions["consumer"] if e["name"] == "dynamodb"]
    assert len(writes) == 10
    assert {w["parent_id"] for w in writes} == records  # one write under each record


def test_all_documents_are_schema_valid(
    two_functions: dict[str, Any], segment_validator: Any
) -> None:
    for document in two_functions["documents"]:
        assert [e.message for e in segment_validator.iter_errors(document)] == []
