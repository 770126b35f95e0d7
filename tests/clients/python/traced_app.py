"""aws-xray-sdk for Python used as its docs show, with its defaults: patch_all() and
centralized sampling (rules polled from AWS_XRAY_DAEMON_ADDRESS over TCP). Run by
tests/functional/test_local_xray_clients_python.py against the local X-Ray.

DynamoDB is moto (MOTO_ENDPOINT), plus THROTTLING_ENDPOINT: a server answering every call
with a 429 and no request id. Prints one JSON line: each request's trace id and sampling.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from typing import Any

import boto3
import requests
from aws_xray_sdk.core import patch_all, xray_recorder
from botocore.config import Config
from botocore.exceptions import ClientError

patch_all()  # botocore, requests, httplib, sqlite3... whatever is installed

ONE_ATTEMPT = Config(retries={"total_max_attempts": 1})


def dynamodb(endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=ONE_ATTEMPT,
    )


def main() -> None:
    moto = dynamodb(os.environ["MOTO_ENDPOINT"])
    throttling = dynamodb(os.environ["THROTTLING_ENDPOINT"])
    web = os.environ["WEB_ENDPOINT"]
    moto.create_table(  # outside any segment: the SDK logs that context is missing, as usual
        TableName="orders",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    )
    xray_recorder.begin_segment("warm-up")  # the first decision starts the rule poller
    xray_recorder.end_segment()
    sampler = xray_recorder.sampler
    deadline = time.time() + 15
    while not sampler._cache.rules and time.time() < deadline:
        time.sleep(0.05)
    requests_made = []
    for kind in ("ok", "failing"):
        segment = xray_recorder.begin_segment("python-orders")
        moto.put_item(TableName="orders", Item={"id": {"S": kind}})
        requests.get(f"{web}/stock")
        if kind == "failing":
            for client, table in ((moto, "no-such-table"), (throttling, "busy-table")):
                with contextlib.suppress(ClientError):  # DynamoDB's 400, then a 429
                    client.get_item(TableName=table, Key={"id": {"S": "1"}})
        xray_recorder.end_segment()
        requests_made.append(
            {"kind": kind, "trace_id": segment.trace_id, "sampled": bool(segment.sampled)}
        )
    print(json.dumps({"requests": requests_made}))


if __name__ == "__main__":
    main()
