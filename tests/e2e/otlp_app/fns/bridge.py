"""Calls the URL it is given (an OpenTelemetry service) with requests, which the tracing
layer patches: its X-Amzn-Trace-Id carries the trace on."""

import json

import requests


def handler(event, context):
    target = event["queryStringParameters"]["next"]
    answer = requests.get(target, timeout=5)
    return {"statusCode": 200, "body": json.dumps({"downstream": answer.status_code})}
