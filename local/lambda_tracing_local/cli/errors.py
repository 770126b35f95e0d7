"""Errors the command line reports as one line and exit code 2."""

from __future__ import annotations

from typing import Any

THROTTLE_CODES = {"ThrottledException", "ThrottlingException", "TooManyRequestsException"}
EXIT_USAGE = 2


class CliError(Exception):
    """A problem the user can fix; the message is one line, shown as is."""


def one_line(text: object) -> str:
    return " ".join(str(text).split())


def describe_aws_error(error: BaseException, endpoint: str | None = None) -> str | None:
    """A one-line explanation of a boto3/botocore failure, or None if it is not one."""
    from botocore import exceptions as aws

    if isinstance(error, aws.NoCredentialsError | aws.PartialCredentialsError):
        return (
            "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY, or use --local for the local X-Ray"
        )
    if isinstance(error, aws.NoRegionError):
        return "no AWS region configured: set AWS_DEFAULT_REGION or pass --region"
    if isinstance(error, aws.EndpointConnectionError | aws.ConnectTimeoutError):
        where = endpoint or getattr(error, "kwargs", {}).get("endpoint_url", "X-Ray")
        hint = " (is `lambda-tracing local xray` running?)" if endpoint else ""
        return f"cannot reach {where}{hint}"
    if isinstance(error, aws.ClientError):
        details: dict[str, Any] = error.response.get("Error", {})
        code = details.get("Code", "")
        message = one_line(details.get("Message") or "")
        operation = getattr(error, "operation_name", "the call")
        if code in THROTTLE_CODES:
            return f"throttled by X-Ray ({code}) on {operation}: wait a moment and try again"
        return f"{operation} failed: {code}{': ' + message if message else ''}"
    if isinstance(error, aws.BotoCoreError):
        return one_line(error)
    return None
