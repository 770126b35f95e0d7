"""Sample app: the order worker. Charges each queued order through the external payment
service over HTTP and announces the outcome on SNS.

The payment service answers 429 now and then; such orders are announced as "deferred" rather
than retried, so the demo's queue drains and the map shows the throttle on the payment node.
HTTP goes through urllib3, which the Lambda runtime already ships (botocore depends on it).
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import urllib3

_sns = boto3.client("sns")
_http = urllib3.PoolManager(timeout=urllib3.Timeout(total=5), retries=False)


class PaymentFailed(RuntimeError):
    """Any answer but 200 or 429: the message is reported failed and retried by SQS."""


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures = []
    for record in event.get("Records", []):
        try:
            order = json.loads(record["body"])
            outcome = _charge(order)
        except (ValueError, KeyError, TypeError, PaymentFailed, urllib3.exceptions.HTTPError) as e:
            print(f"order in message {record.get('messageId')} failed: {e!r}")
            failures.append({"itemIdentifier": record.get("messageId")})
            continue
        _sns.publish(
            TopicArn=os.environ["PAYMENTS_TOPIC_ARN"],
            Subject=f"payment {outcome}",
            Message=json.dumps({"orderId": order.get("orderId"), "payment": outcome}),
        )
    return {"batchItemFailures": failures}


def _charge(order: dict[str, Any]) -> str:
    response = _http.request(
        "POST",
        os.environ["PAYMENT_SERVICE_URL"],
        body=json.dumps({"orderId": order["orderId"], "quantity": order["quantity"]}),
        headers={"Content-Type": "application/json"},
    )
    if response.status == 429:
        return "deferred"
    if response.status != 200:
        raise PaymentFailed(f"payment service answered {response.status}")
    return str(json.loads(response.data).get("status", "paid"))
