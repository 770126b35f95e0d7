"""X-Ray's subsegment fields as OpenTelemetry attributes: the names OTel's botocore and HTTP
instrumentations give them, which X-Ray's OTLP conversion reads to draw AWS and remote nodes
(the table in backend/otlp.py's docstring). Used by the general encoder (otlp.SpanConverter) and
by the pre-encoded AWS calls (otlp_calls.CallSpans), so both write the same attributes.
"""

from __future__ import annotations

from typing import Any

# The names OTel's botocore instrumentation (and ADOT, for S3 and SNS) give the X-Ray SDK's
# aws fields: what X-Ray's OTLP conversion reads to name the queue, topic, function, bucket.
AWS_KEYS = {
    "operation": "rpc.method",
    "region": "aws.region",
    "request_id": "aws.request_id",
    "queue_url": "aws.queue_url",
    "topic_arn": "aws.sns.topic.arn",
    "function_name": "faas.invoked_name",
    "bucket_name": "aws.s3.bucket",
}
# aws-xray-sdk names a botocore call's span after the endpoint prefix; OTel's rpc.service is
# botocore's service id. The common ones; others keep the prefix.
SERVICE_IDS = {
    "dynamodb": "DynamoDB",
    "sqs": "SQS",
    "sns": "SNS",
    "s3": "S3",
    "lambda": "Lambda",
    "events": "EventBridge",
    "kinesis": "Kinesis",
    "states": "SFN",
    "ssm": "SSM",
    "sts": "STS",
    "secretsmanager": "Secrets Manager",
    "kms": "KMS",
    "firehose": "Firehose",
    "bedrock-runtime": "Bedrock Runtime",
    "logs": "CloudWatch Logs",
    "monitoring": "CloudWatch",
}


def aws_attributes(aws: dict[str, Any], pairs: list[tuple[str, Any]], call: bool) -> None:
    for key, value in aws.items():
        if value is None or value == "" or isinstance(value, dict):
            continue
        if key == "table_name":
            pairs.append(("aws.dynamodb.table_names", (value,)))
        elif key == "operation" and not call:
            pairs.append(("aws.operation", value))
        else:
            pairs.append((AWS_KEYS.get(key) or f"aws.{key}", value))


def http_attributes(http: dict[str, Any], pairs: list[tuple[str, Any]]) -> str | None:
    request = http.get("request")
    request = request if isinstance(request, dict) else {}
    response = http.get("response")
    response = response if isinstance(response, dict) else {}
    method = request.get("method")
    if method:
        pairs.append(("http.request.method", method))
    url = request.get("url")
    if isinstance(url, str) and url:
        pairs.append(("url.full", url))
        from urllib.parse import urlsplit  # loaded by then: botocore and requests use it

        try:
            host = urlsplit(url).hostname
        except ValueError:
            host = None
        if host:
            pairs.append(("server.address", host))
    if request.get("user_agent"):
        pairs.append(("user_agent.original", request["user_agent"]))
    if request.get("client_ip"):
        pairs.append(("client.address", request["client_ip"]))
    status = response.get("status")
    if isinstance(status, int):
        pairs.append(("http.response.status_code", status))
    return method if isinstance(method, str) else None
