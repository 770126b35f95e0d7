"""Functions that exercise the local runtime's edges: success, raise, timeout, context."""

import json
import os
import time


def echo(event, context):
    seen = {
        "event": event,
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "pid": os.getpid(),
        "table": os.environ.get("TABLE"),
        "greeting": os.environ.get("GREETING"),
        "memory": os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "client_custom": context.client_context.custom if context.client_context else None,
    }
    if isinstance(event, dict) and "httpMethod" in event:  # behind the API: a proxy response
        return {"statusCode": 200, "headers": {"X-Echo": "yes"}, "body": json.dumps(seen)}
    return seen


def consume(event, context):
    """Store what arrived, so the test can see records as Lambda delivers them."""
    import boto3

    table = boto3.client("dynamodb")
    for record in event["Records"]:
        table.put_item(
            TableName=os.environ["TABLE"],
            Item={
                "id": {"S": record["body"]},
                "record": {"S": json.dumps(record)},
                "batch": {"N": str(len(event["Records"]))},
                "trace": {"S": os.environ.get("_X_AMZN_TRACE_ID", "")},
            },
        )
    return {"batchItemFailures": []}


def boom(event, context):
    raise ValueError("card declined: " + str(event.get("card")))


def slow(event, context):
    with open(event["pid_file"], "w") as out:
        out.write(str(os.getpid()))
    time.sleep(30)
    return "never"
