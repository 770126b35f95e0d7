"""Sample app: the order worker. Charges each queued order through the external payment
service over HTTP and announces the outcome on SNS.

The payment service answers 429 now and then; such orders are announced as "deferred" rather
than retried, so the demo's queue drains and the map shows the throttle on the payment node.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

import boto3

_sns = boto3.client("sns")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures = []
    for record in event.get("Records", []):
        try:
            order = json.loads(record["body"])
            outcome = _charge(order)
        except (ValueError, KeyError, OSError) as problem:
            print(f"order in message {record.get('messageId')} failed: {problem!r}")
            failures.append({"itemIdentifier": record.get("messageId")})
            continue
        _sns.publish(
            TopicArn=os.environ["PAYMENTS_TOPIC_ARN"],
            Subject=f"payment {outcome}",
            Message=json.dumps({"orderId": order.get("orderId"), "payment": outcome}),
        )
    return {"batchItemFailures": failures}


def _charge(order: dict[str, Any]) -> str:
    request = urllib.request.Request(
        os.environ["PAYMENT_SERVICE_URL"],
        data=json.dumps({"orderId": order["orderId"], "quantity": order["quantity"]}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - configured URL
            return str(json.load(response).get("status", "paid"))
    except urllib.error.HTTPError as refused:
        if refused.code == 429:
            return "deferred"
        raise
