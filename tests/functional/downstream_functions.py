"""The "Lambda functions" of the test_downstream_* tests, each run in its own process.

    python downstream_functions.py <scenario>   (environment: _X_AMZN_TRACE_ID,
    AWS_XRAY_DAEMON_ADDRESS, AWS_ENDPOINT_URL for moto, TARGET_URL for the HTTP server)

The layer's patches are applied as at start-up (patch_configured); the scenario's calls then run
in the invocation named by _X_AMZN_TRACE_ID. Prints one JSON line: what the test needs to know
(request ids, the requests as they left botocore).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import sys
import zipfile
from typing import Any

from lambda_tracing.patches import patch_configured

PATCHED = patch_configured(["botocore", "requests", "httpx", "urllib3"])
TRACE_HEADER = os.environ.pop("_X_AMZN_TRACE_ID", "")  # set again once set-up calls are done


def start_invocation() -> None:
    os.environ["_X_AMZN_TRACE_ID"] = TRACE_HEADER


def capture_requests(client: Any, sent: list[dict[str, Any]]) -> Any:
    """Keep each request as it leaves botocore: after every parameter handler ran."""

    def before_send(request: Any, **_: Any) -> None:
        body = request.body
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        headers = {
            name: value.decode() if isinstance(value, bytes) else value
            for name, value in request.headers.items()
        }
        sent.append({"url": request.url, "headers": headers, "body": body})

    client.meta.events.register("before-send", before_send)
    return client


def aws_calls() -> dict[str, Any]:
    import boto3
    from botocore.exceptions import ClientError

    sent: list[dict[str, Any]] = []
    session = boto3.session.Session(region_name="us-east-1")

    def client(name: str) -> Any:
        return capture_requests(session.client(name), sent)

    dynamodb, sqs, sns, events = client("dynamodb"), client("sqs"), client("sns"), client("events")
    kinesis, s3, lambda_, iam = client("kinesis"), client("s3"), client("lambda"), client("iam")
    # Set-up, outside the invocation (not traced).
    dynamodb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    queue_url = sqs.create_queue(QueueName="orders-queue")["QueueUrl"]
    raw_queue_url = sqs.create_queue(QueueName="from-sns")["QueueUrl"]
    raw_queue_arn = sqs.get_queue_attributes(QueueUrl=raw_queue_url, AttributeNames=["QueueArn"])
    topic_arn = sns.create_topic(Name="orders-topic")["TopicArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=raw_queue_arn["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    events.create_event_bus(Name="orders-bus")
    kinesis.create_stream(StreamName="orders-stream", ShardCount=1)
    s3.create_bucket(Bucket="orders-bucket")
    role = iam.create_role(
        RoleName="fn-role",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("app.py", "def handler(event, context):\n    return event\n")
    lambda_.create_function(
        FunctionName="orders-fn",
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": archive.getvalue()},
    )
    sent.clear()

    start_invocation()
    ids: dict[str, Any] = {}

    def call(key: str, response: dict[str, Any]) -> None:
        ids[key] = response["ResponseMetadata"]["RequestId"]

    call("dynamodb.PutItem", dynamodb.put_item(TableName="orders", Item={"id": {"S": "1"}}))
    call("sqs.SendMessage", sqs.send_message(QueueUrl=queue_url, MessageBody="one"))
    entries = [{"Id": str(i), "MessageBody": f"m{i}"} for i in range(3)]
    call("sqs.SendMessageBatch", sqs.send_message_batch(QueueUrl=queue_url, Entries=entries))
    call("sns.Publish", sns.publish(TopicArn=topic_arn, Message="hello"))
    full = {f"a{i}": {"DataType": "String", "StringValue": str(i)} for i in range(10)}
    full_publish = sns.publish(TopicArn=topic_arn, Message="full", MessageAttributes=full)
    call("sns.Publish.full", full_publish)
    entry = {"Source": "shop", "DetailType": "order", "Detail": "{}", "EventBusName": "orders-bus"}
    put_events = events.put_events(Entries=[entry])
    call("events.PutEvents", put_events)
    record = kinesis.put_record(StreamName="orders-stream", Data=b"x", PartitionKey="p")
    call("kinesis.PutRecord", record)
    ids["kinesis.sequence_number"] = record["SequenceNumber"]
    batch = [{"Data": b"y", "PartitionKey": f"p{i}"} for i in range(3)]
    put_records = kinesis.put_records(StreamName="orders-stream", Records=batch)
    call("kinesis.PutRecords", put_records)
    ids["kinesis.sequence_numbers"] = [r["SequenceNumber"] for r in put_records["Records"]]
    call("s3.PutObject", s3.put_object(Bucket="orders-bucket", Key="a.json", Body=b"{}"))
    call("lambda.Invoke", lambda_.invoke(FunctionName="orders-fn", Payload=b"{}"))
    call("lambda.Invoke.event", lambda_.invoke(FunctionName="orders-fn", InvocationType="Event"))
    try:
        dynamodb.get_item(TableName="missing", Key={"id": {"S": "1"}})
    except ClientError as error:
        ids["dynamodb.GetItem.error"] = type(error).__name__
        ids["dynamodb.GetItem.request_id"] = error.response["ResponseMetadata"]["RequestId"]
    client("xray").get_trace_summaries(StartTime=0, EndTime=1)  # X-Ray's own API: never traced
    os.environ.pop("_X_AMZN_TRACE_ID")

    delivered = sqs.receive_message(
        QueueUrl=raw_queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    return {
        "patched": PATCHED,
        "ids": ids,
        "sent": sent,
        "queue_url": queue_url,
        "topic_arn": topic_arn,
        "via_sns": [m.get("MessageAttributes", {}) for m in delivered.get("Messages", [])],
    }


def unsampled_aws() -> dict[str, Any]:
    import boto3

    sent: list[dict[str, Any]] = []
    sqs = capture_requests(boto3.client("sqs", region_name="us-east-1"), sent)
    queue_url = sqs.create_queue(QueueName="unsampled")["QueueUrl"]
    sent.clear()
    start_invocation()
    sqs.send_message(QueueUrl=queue_url, MessageBody="quiet")
    return {"sent": sent}


def http_calls() -> dict[str, Any]:
    import httpx
    import requests
    import urllib3

    target = os.environ["TARGET_URL"]
    start_invocation()
    statuses = {
        "requests": requests.get(f"{target}/requests?secret=1", timeout=5).status_code,
        "httpx": httpx.get(f"{target}/httpx", timeout=5).status_code,
        "urllib3": urllib3.PoolManager().request("GET", f"{target}/urllib3").status,
        "requests-500": requests.post(f"{target}/fail/requests", timeout=5).status_code,
    }

    async def async_call() -> int:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"{target}/httpx-async", timeout=5)).status_code

    statuses["httpx-async"] = asyncio.run(async_call())
    return {"patched": PATCHED, "statuses": statuses}


def http_unusual_calls() -> dict[str, Any]:
    """Calls that requests and httpx accept in forms the SDK's patchers did not expect; each
    outcome as requests/httpx give it, and the caller's dicts as they are afterwards."""
    import httpx
    import requests

    class UrlObject:  # requests calls str() on whatever url it is given
        def __init__(self, url: str) -> None:
            self.url = url

        def __str__(self) -> str:
            return self.url

    target = os.environ["TARGET_URL"]
    own = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    reused = {"Accept": "application/json"}
    start_invocation()
    outcomes: dict[str, Any] = {}
    calls = {
        "empty url": lambda: requests.get("", timeout=5),
        "url object": lambda: requests.get(UrlObject(f"{target}/url-object"), timeout=5),
        "prepare_request by keyword": lambda: requests.Session().prepare_request(
            request=requests.Request("GET", f"{target}/x")
        ),
        "requests, own header": lambda: requests.get(
            f"{target}/own-requests", headers={"X-Amzn-Trace-Id": own}, timeout=5
        ),
        "httpx, own header": lambda: httpx.get(
            f"{target}/own-httpx", headers={"X-Amzn-Trace-Id": own}, timeout=5
        ),
        "reused headers": lambda: requests.get(f"{target}/reused", headers=reused, timeout=5),
    }
    for name, call in calls.items():
        try:
            answer = call()
            outcomes[name] = ["ok", getattr(answer, "status_code", None)]
        except Exception as error:
            outcomes[name] = ["raised", type(error).__name__]
    return {"outcomes": outcomes, "reused_after": reused, "own": own}


def sqs_producer() -> dict[str, Any]:
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = os.environ["QUEUE_URL"]
    start_invocation()
    # One SendMessage per message: moto's SendMessageBatch drops MessageSystemAttributes (the
    # batch's wire format is checked in test_downstream_aws).
    sent = [sqs.send_message(QueueUrl=queue_url, MessageBody=f"order-{i}") for i in range(10)]
    return {"message_ids": [response["MessageId"] for response in sent]}


def sqs_consumer() -> dict[str, Any]:
    import boto3
    from lambda_tracing.records import records

    event = json.load(sys.stdin)
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.create_table(
        TableName="processed",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    start_invocation()
    seen = []
    for record in records(event):
        dynamodb.put_item(TableName="processed", Item={"id": {"S": record["messageId"]}})
        seen.append(record["messageId"])
    return {"processed": seen}


def client_context_of(sent_request: dict[str, Any]) -> Any:
    encoded = sent_request["headers"].get("X-Amz-Client-Context")
    return json.loads(base64.b64decode(encoded)) if encoded else None


if __name__ == "__main__":
    result = globals()[sys.argv[1]]()
    print(json.dumps(result, default=str))
