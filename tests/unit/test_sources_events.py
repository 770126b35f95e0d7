"""Inbound context per event source (lambda_tracing.sources): one classifier, one module each.

Events follow the shapes in the Lambda developer guide's "Using AWS Lambda with ..." pages.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from lambda_tracing import sources
from lambda_tracing.records import records
from lambda_tracing.sources.links import Link

ROOT_A = "1-5759e988-bd862e3fe1be46a994272793"
ROOT_B = "1-6759e988-cd862e3fe1be46a994272794"
PARENT = "53995c3f42cd8ad8"
HEADER_A = f"Root={ROOT_A};Parent={PARENT};Sampled=1"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:orders"
SEQUENCE = "49590338271490256608559692538361571095921575989136588898"
STREAM_ARN = "arn:aws:dynamodb:us-east-1:1:table/orders/stream/2015-06-27T00:48:05"


def sqs_record(message_id: str, trace: str | None, **extra: Any) -> dict[str, Any]:
    attributes = {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183"}
    if trace is not None:
        attributes["AWSTraceHeader"] = trace
    return {
        "messageId": message_id,
        "receiptHandle": "AQEB",
        "body": "hello",
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
        **extra,
    }


def http_api(headers: dict[str, str], domain: str = "id.execute-api.us-east-1.amazonaws.com"):
    return {
        "version": "2.0",
        "routeKey": "GET /orders",
        "rawPath": "/orders",
        "headers": headers,
        "requestContext": {
            "apiId": "api1",
            "domainName": domain,
            "http": {"method": "GET", "path": "/orders"},
            "requestId": "req-1",
        },
        "isBase64Encoded": False,
    }


REST = {
    "resource": "/orders",
    "path": "/orders",
    "httpMethod": "GET",
    "headers": {"X-Amzn-Trace-Id": HEADER_A},
    "multiValueHeaders": {"X-Amzn-Trace-Id": [HEADER_A]},
    "requestContext": {"apiId": "rest1", "requestId": "req-2", "resourcePath": "/orders"},
}
ALB = {
    "requestContext": {
        "elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/tg/1"}
    },
    "httpMethod": "GET",
    "path": "/",
    "multiValueHeaders": {"x-amzn-trace-id": [f"Self=1-67891234-abcdef;{HEADER_A}"]},
}
SNS = {
    "Records": [
        {
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": "arn:aws:sns:us-east-1:1:t:sub",
            "Sns": {
                "MessageId": "sns-1",
                "TopicArn": "arn:aws:sns:us-east-1:1:t",
                "Message": "m",
                "MessageAttributes": {"AWSTraceHeader": {"Type": "String", "Value": HEADER_A}},
            },
        }
    ]
}
KINESIS = {
    "Records": [
        {
            "eventSource": "aws:kinesis",
            "eventID": f"shardId-000000000006:{SEQUENCE}",
            "eventSourceARN": "arn:aws:kinesis:us-east-1:1:stream/orders",
            "kinesis": {
                "partitionKey": "p1",
                "sequenceNumber": SEQUENCE,
                "data": "SGVsbG8=",
            },
        }
    ]
}
DYNAMODB = {
    "Records": [
        {
            "eventID": "c4ca4238a0b923820dcc509a6f75849b",
            "eventName": "INSERT",
            "eventSource": "aws:dynamodb",
            "eventSourceARN": STREAM_ARN,
            "dynamodb": {
                "Keys": {"Id": {"N": "101"}},
                "SequenceNumber": "4421584500000000017450439091",
            },
        }
    ]
}
S3 = {
    "Records": [
        {
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "s3": {
                "bucket": {"name": "orders-bucket", "arn": "arn:aws:s3:::orders-bucket"},
                "object": {"key": "a.json", "eTag": "0123456789abcdef", "sequencer": "0A1B2C3D4E"},
            },
        }
    ]
}
EVENTBRIDGE = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "OrderPlaced",
    "source": "shop.orders",
    "resources": [],
    "detail": {"order": 1},
}


@pytest.mark.parametrize(
    ("event", "name"),
    [
        ({"Records": [sqs_record("m1", HEADER_A)]}, "aws:sqs"),
        (SNS, "aws:sns"),
        (KINESIS, "aws:kinesis"),
        (DYNAMODB, "aws:dynamodb"),
        (S3, "aws:s3"),
        (EVENTBRIDGE, "aws:events"),
        (ALB, "aws:elb"),
        (REST, "aws:apigateway:rest"),
        (http_api({}), "aws:apigateway:http"),
        (http_api({}, "abc.lambda-url.us-east-1.on.aws"), "aws:lambda:url"),
    ],
)
def test_each_source_is_recognised(event: dict[str, Any], name: str) -> None:
    module = sources.classify(event)
    assert module is not None and name == module.NAME
    found = sources.inbound(event)
    assert found is not None and found.source == name


def test_every_sqs_record_is_read_not_only_the_first() -> None:
    event = {
        "Records": [
            sqs_record("m1", HEADER_A),
            sqs_record("m2", f"Root={ROOT_B};Parent={PARENT};Sampled=0;Lineage=1:2"),
            sqs_record("m3", None),
            sqs_record("m4", "Root=garbage"),
        ]
    }
    found = sources.inbound(event)
    assert found is not None
    assert found.links == (
        Link("aws:sqs", ROOT_A, PARENT, 1, "m1", QUEUE_ARN),
        Link("aws:sqs", ROOT_B, PARENT, 0, "m2", QUEUE_ARN),
        Link("aws:sqs", record_id="m3", resource=QUEUE_ARN),
        Link("aws:sqs", record_id="m4", resource=QUEUE_ARN),
    )
    assert [record["messageId"] for record, _ in found.records] == ["m1", "m2", "m3", "m4"]


def test_sqs_message_from_sns_raw_delivery_uses_the_message_attribute() -> None:
    attribute = {"stringValue": HEADER_A, "dataType": "String"}
    record = sqs_record("m1", None, messageAttributes={"AWSTraceHeader": attribute})
    found = sources.inbound({"Records": [record]})
    assert found is not None and found.links[0].trace_id == ROOT_A


def test_sns_reads_the_attribute_propagation_adds() -> None:
    found = sources.inbound(SNS)
    assert found is not None
    assert found.links == (
        Link("aws:sns", ROOT_A, PARENT, 1, "sns-1", "arn:aws:sns:us-east-1:1:t"),
    )


def test_http_sources_read_the_header_case_insensitively() -> None:
    for event in (
        REST,
        ALB,
        http_api({"x-amzn-trace-id": HEADER_A}),
        http_api({"X-AMZN-TRACE-ID": HEADER_A}, "abc.lambda-url.us-east-1.on.aws"),
    ):
        found = sources.inbound(event)
        assert found is not None
        (link,) = found.links
        assert (link.trace_id, link.parent_id, link.sampled) == (ROOT_A, PARENT, 1), event


def test_sources_without_trace_context_link_by_record_identity() -> None:
    kinesis = sources.inbound(KINESIS)
    assert kinesis is not None
    (link,) = kinesis.links
    assert link.trace_id is None
    assert link.record_id == SEQUENCE
    assert link.attributes == {"shard_id": "shardId-000000000006", "partition_key": "p1"}
    dynamodb = sources.inbound(DYNAMODB)
    assert dynamodb is not None
    assert dynamodb.links[0].attributes == {"sequence_number": "4421584500000000017450439091"}
    s3 = sources.inbound(S3)
    assert s3 is not None
    assert s3.links[0].attributes == {
        "bucket": "orders-bucket",
        "key": "a.json",
        "sequencer": "0A1B2C3D4E",
        "event_name": "ObjectCreated:Put",
    }
    bridged = sources.inbound(EVENTBRIDGE)
    assert bridged is not None
    assert bridged.links[0].record_id == "6a7e8feb-b491-4cf7-a9f1-bf3703467718"
    assert bridged.links[0].attributes == {"source": "shop.orders", "detail_type": "OrderPlaced"}


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        "text",
        {},
        {"Records": "x"},
        {"Records": [1, 2]},
        {"Records": [{"eventSource": "aws:sqs"}]},
        {"Records": [{"eventSource": "aws:sns"}]},
        {"Records": [{"EventSource": "aws:sns", "Sns": None}]},
        {"Records": [{"eventSource": "aws:s3", "s3": {}}]},
        {"requestContext": {"elb": {}}, "headers": None},
        {"version": "2.0", "requestContext": {"http": {}}, "headers": {"x-amzn-trace-id": 5}},
        {"detail-type": "x", "source": "y", "detail": None},
    ],
)
def test_odd_events_never_raise(event: Any) -> None:
    before = copy.deepcopy(event)
    found = sources.inbound(event)
    assert found is None or all(isinstance(link, Link) for link in found.links)
    assert event == before  # the user's event is never modified


def test_records_of_an_unknown_event_are_iterated_untraced() -> None:
    assert list(records({"Records": [1, 2]})) == [1, 2]
    assert list(records({"anything": 1})) == [{"anything": 1}]
    event = {"Records": [sqs_record("m1", HEADER_A), sqs_record("m2", None)]}
    assert [r["messageId"] for r in records(event)] == ["m1", "m2"]  # no trace: still yielded


def test_reading_an_event_imports_no_powertools() -> None:
    """Powertools' event classes pull in most of Powertools (90-200 ms on the first SQS or
    EventBridge event): the layer reads its few fields itself."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from lambda_tracing import sources\n"
        f"for event in ({{'Records': [{sqs_record('m1', HEADER_A)!r}]}}, {SNS!r}, {KINESIS!r},"
        f" {DYNAMODB!r}, {S3!r}, {EVENTBRIDGE!r}, {REST!r}, {ALB!r}):\n"
        "    found = sources.inbound(event)\n"
        "    assert found is not None and found.links, event\n"
        "print(sorted(name for name in sys.modules if 'powertools' in name))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_a_span_carries_at_most_xray_s_20_links_and_counts_the_rest() -> None:
    from lambda_tracing.sources.links import MAX_LINKS

    event = {"Records": [sqs_record(f"m{n}", HEADER_A) for n in range(10_000)]}
    span = _Span()
    found = sources.record_inbound(span, event)
    assert found is not None and found.count == 10_000
    assert MAX_LINKS == 20
    links = span.metadata["lambda_tracing"]["links"]
    assert [link["record_id"] for link in links] == [f"m{n}" for n in range(20)]
    assert span.metadata["lambda_tracing"]["links_dropped"] == 10_000 - 20
    # records() still yields every record with its own link
    assert sum(1 for _ in found.records) == 10_000


def test_a_huge_batch_reads_only_the_records_it_links() -> None:
    class Exploding(dict):  # noqa: FURB189 - a record the reader must never reach
        def get(self, *args: Any) -> Any:
            raise AssertionError("record beyond the cap was read")

    event = {
        "Records": [sqs_record(f"m{n}", HEADER_A) for n in range(20)]
        + [Exploding(eventSource="aws:sqs")] * 5000
    }
    span = _Span()
    sources.record_inbound(span, event)
    assert len(span.metadata["lambda_tracing"]["links"]) == 20


def test_hostile_containers_in_an_event_are_not_called() -> None:
    class Hostile(dict):  # noqa: FURB189
        def get(self, *args: Any) -> Any:
            raise AssertionError("user code called")

        def items(self) -> Any:
            raise AssertionError("user code called")

    record = sqs_record("m1", None)
    record["attributes"] = Hostile(AWSTraceHeader=HEADER_A)
    found = sources.inbound({"Records": [record]})
    assert found is not None
    assert found.links == (Link("aws:sqs", record_id="m1", resource=QUEUE_ARN),)
    rest = dict(REST, headers=Hostile({"X-Amzn-Trace-Id": HEADER_A}), multiValueHeaders=None)
    found = sources.inbound(rest)
    assert found is not None and found.links[0].trace_id is None


def test_s3_keys_are_decoded_as_the_producer_wrote_them() -> None:
    event = copy.deepcopy(S3)
    event["Records"][0]["s3"]["object"]["key"] = "orders/2024+01/a%3Db.json"
    found = sources.inbound(event)
    assert found is not None and found.links[0].attributes["key"] == "orders/2024 01/a=b.json"


class _Span:
    sampled = True

    def __init__(self) -> None:
        self.annotations: dict[str, Any] = {}
        self.metadata: dict[str, dict[str, Any]] = {}

    def put_annotation(self, key: str, value: Any) -> None:
        self.annotations[key] = value

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self.metadata.setdefault(namespace, {})[key] = value


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("sqs", "aws:sqs"),
        ("sns", "aws:sns"),
        ("kinesis", "aws:kinesis"),
        ("dynamodb", "aws:dynamodb"),
        ("s3", "aws:s3"),
        ("eventbridge", "aws:events"),
        ("alb", "aws:elb"),
        ("apigateway_rest", "aws:apigateway:rest"),
        ("apigateway_http", "aws:apigateway:http"),
    ],
)
def test_sam_s_example_events_are_read(name: str, source: str) -> None:
    import json
    from pathlib import Path

    path = Path(__file__).parents[1] / "fixtures" / "events" / f"{name}.json"
    event = json.loads(path.read_text())
    found = sources.inbound(event)
    assert found is not None and found.source == source
    assert found.links and all(link.record_id or link.resource for link in found.links)
