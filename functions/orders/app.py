"""Sample app: the orders API. Stores an order in DynamoDB and queues it for the worker.

Orders of more than MAX_QUANTITY items fail the stock check with an unhandled error on purpose:
that is the fault the demo's service map shows in red.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import boto3

MAX_QUANTITY = 50

_dynamodb = boto3.client("dynamodb")
_sqs = boto3.client("sqs")


class OutOfStock(RuntimeError):
    """Raised for oversized orders; unhandled, so Lambda and X-Ray record a fault."""


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        order = _parse(event.get("body"))
    except ValueError as problem:
        return _response(400, {"message": str(problem)})
    if order["quantity"] > MAX_QUANTITY:
        raise OutOfStock(f"cannot reserve {order['quantity']} x {order['item']}")
    order_id = str(uuid.uuid4())
    _dynamodb.put_item(
        TableName=os.environ["ORDERS_TABLE"],
        Item={
            "orderId": {"S": order_id},
            "item": {"S": order["item"]},
            "quantity": {"N": str(order["quantity"])},
            "status": {"S": "received"},
        },
    )
    _sqs.send_message(
        QueueUrl=os.environ["ORDERS_QUEUE_URL"],
        MessageBody=json.dumps({"orderId": order_id, **order}),
    )
    return _response(201, {"orderId": order_id})


def _parse(body: str | None) -> dict[str, Any]:
    try:
        data = json.loads(body or "")
    except ValueError:
        raise ValueError('body must be JSON: {"item": str, "quantity": int}') from None
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    item, quantity = data.get("item"), data.get("quantity")
    if not isinstance(item, str) or not item:
        raise ValueError("item must be a non-empty string")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise ValueError("quantity must be a positive integer")
    return {"item": item, "quantity": quantity}


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }
