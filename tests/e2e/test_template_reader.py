"""The SAM template reader on the project's template.yaml and on short-form edge cases."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from e2e_support import ROOT
from lambda_tracing_local.runtime import template as tpl


def test_sample_app_functions_with_globals_and_local_values() -> None:
    document = tpl.load_template(ROOT / "template.yaml")
    functions = tpl.functions(document, ROOT)
    orders, worker = functions["OrdersFunction"], functions["WorkerFunction"]
    assert orders.code_dir == ROOT / "functions/orders" and orders.handler == "app.handler"
    assert orders.runtime == "python3.13" and orders.tracing == "Active"  # from Globals
    assert orders.layers == [{"Ref": "TracingLayer"}]
    assert [e["Path"] for e in orders.events_of_type("Api")] == ["/orders"]
    assert worker.events_of_type("SQS")[0]["Queue"] == {"Fn::GetAtt": ["OrdersQueue", "Arn"]}
    assert tpl.layer_dirs(document, ROOT) == {"TracingLayer": ROOT / "layers/tracing"}

    values = tpl.LocalValues(
        refs={
            "OrdersTable": "orders-t",
            "OrdersQueue": "http://q/OrdersQueue",
            "PaymentsTopic": "t",
            "SummaryBucket": "summaries",
        },
        parameters={"PaymentServiceUrl": "http://localhost:1/charge"},
    )
    resolver = tpl.Resolver(document, values)
    assert resolver.resolve(orders.environment) == {
        "AWS_LAMBDA_EXEC_WRAPPER": "/opt/lambda-tracing",
        "POWERTOOLS_SERVICE_NAME": "orders",
        "ORDERS_TABLE": "orders-t",
        "ORDERS_QUEUE_URL": "http://q/OrdersQueue",
    }
    assert (
        resolver.resolve(worker.environment)["PAYMENT_SERVICE_URL"] == "http://localhost:1/charge"
    )
    service_map = resolver.resolve(functions["ServiceMapFunction"].environment)
    assert service_map["SCHEDULE_MINUTES"] == "5"  # parameter Default


def test_short_forms_sub_and_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        "Parameters:\n  Stage: {Type: String, Default: dev}\n"
        "Resources:\n"
        "  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      CodeUri: src/\n      Handler: app.h\n      Timeout: 7\n"
        "      Environment:\n        Variables:\n"
        "          A: !Sub '${Stage}-${Bucket.Arn}-${AWS::Region}'\n"
        "          B: !Join ['-', [x, !Ref Stage]]\n"
        "          C: !Sub ['${X}!', {X: !Ref Stage}]\n"
        "          D: !Ref Missing\n"
    )
    document = tpl.load_template(path)
    spec = tpl.functions(document, tmp_path)["Fn"]
    assert (spec.timeout, spec.memory_size) == (7, 128)  # Lambda's default memory
    values = tpl.LocalValues(attributes={("Bucket", "Arn"): "arn:aws:s3:::b"})
    resolver = tpl.Resolver(document, values)
    env = spec.environment
    assert resolver.resolve(env["A"]) == "dev-arn:aws:s3:::b-us-east-1"
    assert resolver.resolve(env["B"]) == "x-dev"
    assert resolver.resolve(env["C"]) == "dev!"
    with pytest.raises(tpl.TemplateError, match="Missing"):
        resolver.resolve(env["D"])
    (tmp_path / "bad.yaml").write_text("Resources: [1, 2")
    with pytest.raises(tpl.TemplateError, match="cannot read template"):
        tpl.load_template(tmp_path / "bad.yaml")


def test_a_ready_event_for_every_function() -> None:
    document = tpl.load_template(ROOT / "template.yaml")
    for name, spec in tpl.functions(document, ROOT).items():
        file_name = re.sub(r"(?<!^)(?=[A-Z])", "_", name.removesuffix("Function")).lower()
        event = json.loads((ROOT / "events" / f"{file_name}.json").read_text())
        kinds = {e.get("Type") for e in spec.events.values()}
        if "Api" in kinds:
            route = spec.events_of_type("Api")[0]
            assert (event["httpMethod"], event["path"]) == (route["Method"].upper(), route["Path"])
            assert json.loads(event["body"])  # the orders API takes a JSON body
        elif "SQS" in kinds:
            assert event["Records"][0]["eventSource"] == "aws:sqs"
            assert json.loads(event["Records"][0]["body"])["orderId"]
        else:
            assert event["detail-type"] == "Scheduled Event" and event["time"].endswith("Z")
