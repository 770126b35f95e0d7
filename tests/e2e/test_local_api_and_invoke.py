"""The API front (HTTP -> API Gateway proxy events, its X-Ray segment) and `local invoke`."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import requests
from e2e_support import FIXTURE_APP, FIXTURE_TEMPLATE, ROOT, by_origin, trace_documents
from lambda_tracing_local.runtime import main as invoke_main
from lambda_tracing_local.runtime.api_front import ApiFront
from lambda_tracing_local.runtime.local_app import LocalApp
from lambda_tracing_local.runtime.local_lambda import LocalLambda
from lambda_tracing_local.xray import LocalXRay

pytestmark = pytest.mark.e2e
SEGMENT_SCHEMA = json.loads(
    (ROOT / "tests/fixtures/xray/segment-document-schema-v1.0.0.json").read_text()
)


def test_api_front_sends_proxy_events_and_traces_the_stage(
    fixture_lambda: LocalLambda, xray: LocalXRay
) -> None:
    with ApiFront(fixture_lambda, xray.udp_address) as api:
        answer = requests.get(f"{api.url}/echo/alice?colour=red&colour=blue", timeout=30)
        failed = requests.post(f"{api.url}/boom", json={"card": 1}, timeout=30)
        unknown = requests.get(f"{api.url}/nowhere", timeout=30)

    assert answer.status_code == 200 and answer.headers["X-Echo"] == "yes"
    event = answer.json()["event"]
    assert event["httpMethod"] == "GET" and event["resource"] == "/echo/{name}"
    assert event["path"] == "/echo/alice"
    assert event["pathParameters"] == {"name": "alice"}
    assert event["multiValueQueryStringParameters"] == {"colour": ["red", "blue"]}
    assert event["requestContext"]["stage"] == "Prod"  # implicit ServerlessRestApi
    assert failed.status_code == 502 and failed.json() == {"message": "Internal server error"}
    assert unknown.status_code == 403

    trace_id = answer.headers["X-Amzn-Trace-Id"].split(";")[0].removeprefix("Root=")
    documents = trace_documents(xray, trace_id, 3 + 3)
    for document in documents:
        jsonschema.validate(document, SEGMENT_SCHEMA)
    stage = by_origin(documents, "AWS::ApiGateway::Stage")
    assert stage["name"] == "ServerlessRestApi/Prod"
    assert stage["http"]["response"]["status"] == 200 and "parent_id" not in stage
    (invoke,) = stage["subsegments"]
    assert invoke["namespace"] == "aws" and invoke["aws"]["function_name"] == "EchoFunction"
    assert by_origin(documents, "AWS::Lambda")["parent_id"] == invoke["id"]

    failed_trace = failed.headers["X-Amzn-Trace-Id"].split(";")[0].removeprefix("Root=")
    failed_stage = by_origin(trace_documents(xray, failed_trace, 6), "AWS::ApiGateway::Stage")
    assert failed_stage["fault"] is True
    assert failed_stage["http"]["response"]["status"] == 502


def test_local_invoke_command(
    xray: LocalXRay, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"hello": "world"}))
    common = ["--template", str(FIXTURE_TEMPLATE), "--xray-daemon", xray.udp_address]
    common += ["--build-dir", str(tmp_path / "layers")]

    assert invoke_main(["EchoFunction", "--event", str(event), *common]) == 0
    out, err = capsys.readouterr()
    payload = json.loads(out)
    assert payload["event"] == {"hello": "world"}
    assert payload["endpoint"].startswith("http://127.0.0.1:")  # moto server, started for it
    assert "cold start" in err

    assert invoke_main(["BoomFunction", "--event", str(event), *common]) == 1
    assert json.loads(capsys.readouterr().out)["errorType"] == "ValueError"

    assert invoke_main(["NoSuchFunction", "--event", str(event), *common]) == 2
    assert "no function 'NoSuchFunction'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        invoke_main(["EchoFunction", "--event", str(tmp_path / "missing.json"), *common])


def test_sqs_event_source_delivers_batches_with_trace_headers(xray: LocalXRay) -> None:
    headers = {
        f"order-{n}": f"Root=1-6759e988-{n:024x};Parent={n:016x};Sampled=1" for n in range(1, 4)
    }
    layers = {"FixtureLayer": FIXTURE_APP / "layer"}
    with LocalApp(FIXTURE_TEMPLATE, layers, xray.udp_address, xray.api_url) as app:
        sqs = app.moto.client("sqs")
        queue_url = app.values.refs["Queue"]
        for body, header in headers.items():  # moto keeps system attributes of SendMessage only
            sqs.send_message(
                QueueUrl=queue_url,
                MessageBody=body,
                MessageSystemAttributes={
                    "AWSTraceHeader": {"StringValue": header, "DataType": "String"}
                },
            )
        assert app.wait_until_drained(timeout=30)
        items = app.moto.client("dynamodb").scan(TableName="Table")["Items"]

    assert sorted(item["id"]["S"] for item in items) == sorted(headers)
    for item in items:
        record = json.loads(item["record"]["S"])
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:Queue"
        assert record["attributes"]["AWSTraceHeader"] == headers[record["body"]]
        assert record["attributes"]["ApproximateReceiveCount"] == "1"
    # Lambda continues the first record's trace: its segment hangs under the sender's Parent;
    # the batch's other records are linked from it
    batch_roots = {item["trace"]["S"].split(";")[0].removeprefix("Root=") for item in items}
    linked = set()
    for root in batch_roots:
        sender = next(h for h in headers.values() if h.startswith(f"Root={root};"))
        service = by_origin(trace_documents(xray, root, 2), "AWS::Lambda")
        assert service["parent_id"] == sender.split("Parent=")[1].split(";")[0]
        assert service["aws"]["event_source"] == "aws:sqs"
        linked |= {link["trace_id"] for link in service.get("links", [])}
    assert batch_roots | linked == {h.split(";")[0].removeprefix("Root=") for h in headers.values()}
