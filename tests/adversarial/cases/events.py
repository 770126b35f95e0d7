"""Events of every source, as AWS sends them and in wrong shapes and huge sizes (issue 17,
events). The layer reads a few fields of each (trace headers, ids) on the event path: none of
this may change what the handler sees or returns, or take measurable time, first time or warm.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from textwrap import dedent
from typing import Any

from case import Case

EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "events"
HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def sam_event(name: str) -> dict[str, Any]:
    """sam local generate-event's example (tests/fixtures/events/ORIGIN.md)."""
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def sqs_batch(count: int, header: str | None = HEADER, full: bool = False) -> dict[str, Any]:
    """`count` SQS records: sam's whole record, or (by default) only the fields the layer
    reads, so the runtime's own JSON work, and its noise, stays small beside the layer's."""
    record = sam_event("sqs")["Records"][0]
    if not full:
        record = {key: record[key] for key in ("messageId", "eventSource", "eventSourceARN")}
        record["attributes"] = {}
    records = []
    for number in range(count):
        one = copy.deepcopy(record)
        one["messageId"] = f"m-{number}"
        if header is not None:
            one["attributes"]["AWSTraceHeader"] = header
        records.append(one)
    return {"Records": records}


# The handler sees the event: it returns a digest of it, so any change the layer makes shows.
ECHO = {
    "app.py": dedent("""
    import hashlib
    import json

    def handler(event, context):
        text = json.dumps(event, sort_keys=True, default=repr)
        return {"type": type(event).__name__, "size": len(text),
                "sha": hashlib.sha256(text.encode()).hexdigest()}
""")
}
RETURN_EVENT = {"app.py": "def handler(event, context):\n    return event\n"}
COUNT_RECORDS = {
    "app.py": dedent("""
    def handler(event, context):
        return {"records": len(event["Records"]), "last": event["Records"][-1]["messageId"]}
""")
}


def echo(name: str, events: list[Any], note: str, **options: Any) -> Case:
    """A case whose environment's first invocation has `{}`: each event after it is the first
    of its source, so its time is what reading that source costs (acceptance 2), apart from
    the first invocation's own cost, which the runtime cases measure."""
    return Case(name, ECHO, events=[{}, *events], note=note, **options)


CASES: list[Case] = [
    # Every source as sam generates it, first event of the environment, then warm.
    *(
        echo(
            f"event-sam-{name}",
            [sam_event(name), sam_event(name)],
            f"sam's {name} event: first-event cost (Powertools' event classes were 90-200 ms)",
        )
        for name in (
            "sqs",
            "sns",
            "eventbridge",
            "kinesis",
            "dynamodb",
            "apigateway_rest",
            "apigateway_http",
            "alb",
            "s3",
        )
    ),
    Case(
        "event-sam-sqs-returned",
        RETURN_EVENT,
        events=[{}, sam_event("sqs")],
        note="the event passes back out unchanged",
    ),
    Case(
        "event-sqs-10000-records",
        COUNT_RECORDS,
        events=[{"Records": [{"messageId": "warm-up"}]}, sqs_batch(10_000), sqs_batch(10_000)],
        note="10,000 records with trace headers: +694 ms first, +224 ms warm; links capped",
    ),
    Case(
        "event-sqs-10000-records-no-headers",
        COUNT_RECORDS,
        events=[{"Records": [{"messageId": "warm-up"}]}, sqs_batch(10_000, None)],
        note="10,000 records without trace headers",
    ),
    echo(
        "event-sqs-1000-full-records",
        [sqs_batch(1_000, full=True)],
        "1,000 of sam's whole SQS records, each with a trace header",
    ),
    echo(
        "event-sqs-huge-trace-header",
        [sqs_batch(3, "Root=" + "1" * 200_000)],
        "a 200 KB AWSTraceHeader",
    ),
    echo(
        "event-sqs-wrong-shapes",
        [
            {"Records": "not a list"},
            {"Records": []},
            {"Records": [None, 1, "x"]},
            {"Records": [{"eventSource": "aws:sqs", "attributes": ["AWSTraceHeader", HEADER]}]},
            {
                "Records": [
                    {
                        "eventSource": "aws:sqs",
                        "attributes": {"AWSTraceHeader": 42},
                        "messageId": {"nested": True},
                        "eventSourceARN": None,
                    }
                ]
            },
            {
                "Records": [
                    {
                        "eventSource": "aws:sqs",
                        "messageAttributes": {"AWSTraceHeader": {"stringValue": ["list"]}},
                    }
                ]
            },
        ],
        "SQS-looking events in wrong shapes",
    ),
    echo(
        "event-sns-wrong-shapes",
        [
            {"Records": [{"EventSource": "aws:sns", "Sns": "text"}]},
            {"Records": [{"EventSource": "aws:sns", "Sns": {"MessageAttributes": [1, 2]}}]},
            {
                "Records": [
                    {
                        "EventSource": "aws:sns",
                        "Sns": {"MessageAttributes": {"AWSTraceHeader": {"Value": None}}},
                    }
                ]
            },
        ],
        "SNS-looking events in wrong shapes",
    ),
    echo(
        "event-kinesis-dynamodb-s3-wrong-shapes",
        [
            {"Records": [{"eventSource": "aws:kinesis", "eventID": 5, "kinesis": []}]},
            {"Records": [{"eventSource": "aws:dynamodb", "dynamodb": "x", "eventID": None}]},
            {"Records": [{"eventSource": "aws:s3", "s3": {"object": {"key": 7}}, "eventName": 1}]},
            {"Records": [{"eventSource": "aws:s3", "s3": {"object": {"key": "%zz%%+"}}}]},
        ],
        "stream and notification events in wrong shapes",
    ),
    echo(
        "event-eventbridge-wrong-shapes",
        [
            {"detail-type": None, "source": 1, "detail": None},
            {"detail-type": "x", "source": "y", "detail": {}, "resources": "arn"},
            {"detail-type": "x", "source": "y", "detail": {}, "resources": [1, None, {"a": 1}]},
            {"detail-type": "x", "source": "y", "detail": {}, "id": ["list"]},
        ],
        "EventBridge-looking events in wrong shapes",
    ),
    echo(
        "event-eventbridge-100000-resources",
        [
            {
                "detail-type": "x",
                "source": "y",
                "detail": {},
                "resources": [f"arn:aws:s3:::b{n}" for n in range(100_000)],
            }
        ],
        "an EventBridge event with 100,000 resources",
    ),
    echo(
        "event-apigw-wrong-headers",
        [
            {
                "httpMethod": "GET",
                "requestContext": {"requestId": "r"},
                "headers": None,
                "multiValueHeaders": None,
            },
            {
                "httpMethod": "GET",
                "requestContext": {"requestId": "r"},
                "headers": ["a", "b"],
                "multiValueHeaders": {"X-Amzn-Trace-Id": "not a list"},
            },
            {
                "httpMethod": "GET",
                "requestContext": {"requestId": 5, "apiId": []},
                "headers": {"X-Amzn-Trace-Id": 12345},
            },
            {"version": "2.0", "requestContext": {"http": None, "domainName": None}, "headers": {}},
            {"requestContext": {"elb": None}, "headers": {"x-amzn-trace-id": "Self=1-2-3"}},
        ],
        "HTTP events with headers of the wrong types",
    ),
    echo(
        "event-apigw-20000-headers",
        [
            {
                "httpMethod": "GET",
                "requestContext": {"requestId": "r"},
                "headers": {f"X-Header-{n}": "v" * 20 for n in range(20_000)},
            }
        ],
        "20,000 headers, none of them the trace header",
    ),
    echo(
        "event-not-a-dict",
        [[1, 2, 3], "text", 42, None, True, {"Records": None}],
        "events that are not objects",
    ),
    echo(
        "event-user-records-key",
        [
            {"Records": [{"id": 1}, {"id": 2}], "detail-type": "mine"},
            {"Records": [{"eventSource": "my:own", "payload": "x"}]},
        ],
        "a user's own event with a Records key",
    ),
    echo(
        "event-huge-with-capture",
        [{"blob": "z" * 1_000_000, "n": list(range(20_000))}],
        "a 1 MB event with event capture on: one datagram under 64 KB",
        env={"LAMBDA_TRACING_CAPTURE_EVENT": "true"},
    ),
    echo(
        "event-deep-with-capture",
        [json.loads("[" * 900 + "]" * 900)],
        "900 levels of nesting with event capture on",
        env={"LAMBDA_TRACING_CAPTURE_EVENT": "true"},
    ),
]
