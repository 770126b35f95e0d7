"""The DynamoDB the botocore rows call: moto's in-process mock, started by the mini runtime.

In-process moto answers GetItem in about 2-3 ms with little spread, where the moto server on
loopback takes 5-16 ms; the smaller spread lets the tracers' per-call cost show. Only moto's
botocore hook is kept: its HTTP-library interception (the `responses` mock) is stopped so that
the HTTP rows go to the real local server untouched.
"""

from __future__ import annotations

TABLE = "bench"


def start() -> None:
    import boto3
    from moto import mock_aws
    from moto.core import models

    mock_aws().start()
    models.responses_mock.stop()
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.put_item(TableName=TABLE, Item={"pk": {"S": "1"}, "value": {"S": "x"}})
