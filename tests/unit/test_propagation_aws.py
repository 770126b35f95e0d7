"""Trace context into AWS requests (propagation.aws), through a real botocore client.

The handlers run as registered by the botocore patch; botocore's Stubber checks the parameters
that reach the wire against the real service model.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from typing import Any

import boto3
import lambda_tracing.propagation.aws as aws
import lambda_tracing.propagation.header as header
import pytest
from botocore.stub import Stubber

VALUE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
TRACE = {"DataType": "String", "StringValue": VALUE}


@pytest.fixture(autouse=True)
def current_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(header, "current_text", lambda: VALUE)


sent: list[dict[str, Any]] = []


def record_sent(params: dict[str, Any], **_: Any) -> None:
    sent.append(copy.deepcopy(params))


@pytest.fixture
def client() -> Iterator[Any]:
    sent.clear()

    def make(service: str) -> tuple[Any, Stubber]:
        made = boto3.client(
            service,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        stubber = Stubber(made)
        stubber.activate()
        for event_name, handler in aws.HANDLERS:
            made.meta.events.register(event_name, handler)
            # Registered after ours on the same event, so it sees the parameters as they leave.
            made.meta.events.register(
                event_name, lambda params, **_: sent.append(copy.deepcopy(params))
            )
        return made, stubber

    yield make


QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/q"
TOPIC = "arn:aws:sns:us-east-1:123456789012:t"


def test_sqs_send_message_gets_the_system_attribute(client: Any) -> None:
    sqs, stubber = client("sqs")
    stubber.add_response("send_message", {"MessageId": "m"})
    sqs.send_message(QueueUrl=QUEUE, MessageBody="b")
    assert sent == [
        {
            "QueueUrl": QUEUE,
            "MessageBody": "b",
            "MessageSystemAttributes": {"AWSTraceHeader": TRACE},
        }
    ]


def test_sqs_batch_entries_each_get_it_and_the_callers_entries_are_not_mutated(client: Any) -> None:
    sqs, stubber = client("sqs")
    mine = {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=mine"}}
    entries = [
        {"Id": "1", "MessageBody": "a"},
        {"Id": "2", "MessageBody": "b", "MessageSystemAttributes": mine},
    ]
    original = copy.deepcopy(entries)
    stubber.add_response("send_message_batch", {"Successful": [], "Failed": []})
    sqs.send_message_batch(QueueUrl=QUEUE, Entries=entries)
    assert sent[0]["Entries"] == [
        {"Id": "1", "MessageBody": "a", "MessageSystemAttributes": {"AWSTraceHeader": TRACE}},
        {"Id": "2", "MessageBody": "b", "MessageSystemAttributes": mine},  # the caller's wins
    ]
    assert entries == original


def test_sns_publish_gets_a_message_attribute_while_under_ten(client: Any) -> None:
    sns, stubber = client("sns")
    nine = {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(9)}
    ten = {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(10)}
    for number in range(3):
        stubber.add_response("publish", {"MessageId": str(number)})
    sns.publish(TopicArn=TOPIC, Message="m", MessageAttributes=nine)
    sns.publish(TopicArn=TOPIC, Message="m", MessageAttributes=ten)
    sns.publish(PhoneNumber="+15555550100", Message="m")  # SMS: reserved attributes only
    assert sent[0]["MessageAttributes"] == {**nine, "AWSTraceHeader": TRACE}
    assert sent[1]["MessageAttributes"] == ten
    assert "MessageAttributes" not in sent[2]


def test_sns_publish_batch_entries_each_get_it(client: Any) -> None:
    sns, stubber = client("sns")
    stubber.add_response("publish_batch", {"Successful": [], "Failed": []})
    sns.publish_batch(TopicArn=TOPIC, PublishBatchRequestEntries=[{"Id": "1", "Message": "m"}])
    assert sent[0]["PublishBatchRequestEntries"] == [
        {"Id": "1", "Message": "m", "MessageAttributes": {"AWSTraceHeader": TRACE}}
    ]


def test_eventbridge_entries_get_the_trace_header(client: Any) -> None:
    events, stubber = client("events")
    entry = {"Source": "s", "DetailType": "d", "Detail": "{}"}
    stubber.add_response("put_events", {"FailedEntryCount": 0, "Entries": []})
    events.put_events(Entries=[entry, {**entry, "TraceHeader": "Root=mine"}])
    assert sent[0]["Entries"] == [
        {**entry, "TraceHeader": VALUE},
        {**entry, "TraceHeader": "Root=mine"},
    ]


def test_synchronous_invoke_gets_a_client_context(client: Any) -> None:
    lambda_, stubber = client("lambda")
    stubber.add_response("invoke", {"StatusCode": 200})
    lambda_.invoke(FunctionName="f")
    context = json.loads(base64.b64decode(sent[0]["ClientContext"]))
    assert context == {"custom": {"X-Amzn-Trace-Id": VALUE}}


def context_of(custom: dict[str, Any] | None = None, **more: Any) -> str:
    body = {**more, **({"custom": custom} if custom is not None else {})}
    return base64.b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()


def test_invoke_adds_to_the_client_context_within_its_limit() -> None:
    added = aws.with_invoke_trace({"FunctionName": "f"}, VALUE)
    assert json.loads(base64.b64decode(added["ClientContext"])) == {
        "custom": {"X-Amzn-Trace-Id": VALUE}
    }
    merged = aws.with_invoke_trace({"ClientContext": context_of({"k": "v"}, env={"a": 1})}, VALUE)
    assert json.loads(base64.b64decode(merged["ClientContext"])) == {
        "env": {"a": 1},
        "custom": {"k": "v", "X-Amzn-Trace-Id": VALUE},
    }
    for unchanged in (
        {"FunctionName": "f", "InvocationType": "Event"},  # Lambda passes it to sync calls only
        {"ClientContext": "not base64!"},
        {"ClientContext": base64.b64encode(b"[1, 2]").decode()},
        {"ClientContext": context_of({"X-Amzn-Trace-Id": "Root=mine"})},
        {"ClientContext": context_of({"big": "x" * 2600})},  # would pass 3,583 bytes
    ):
        assert aws.with_invoke_trace(unchanged, VALUE) == unchanged


def test_without_a_trace_nothing_is_added(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(header, "current_text", lambda: None)
    sqs, stubber = client("sqs")
    stubber.add_response("send_message", {"MessageId": "m"})
    sqs.send_message(QueueUrl=QUEUE, MessageBody="b")
    assert sent == [{"QueueUrl": QUEUE, "MessageBody": "b"}]


def test_a_failing_handler_never_breaks_the_call(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(header, "current_text", broken)
    sqs, stubber = client("sqs")
    stubber.add_response("send_message", {"MessageId": "m"})
    assert sqs.send_message(QueueUrl=QUEUE, MessageBody="b")["MessageId"] == "m"
    assert sent == [{"QueueUrl": QUEUE, "MessageBody": "b"}]
