"""Trace context into AWS requests, in the place each service hands it on to its consumers.

Registered as botocore `before-parameter-build` handlers, which run inside the call's X-Ray
subsegment, so the header's Parent is that subsegment (the SQS/SNS/... node on the map).

- SQS SendMessage(Batch): the `AWSTraceHeader` message system attribute, which SQS delivers to
  consumers as `attributes.AWSTraceHeader`.
- SNS Publish(Batch): an `AWSTraceHeader` message attribute, only while the message has fewer than
  SNS's 10 attributes (and never on SMS, whose attributes are reserved).
- EventBridge PutEvents: each entry's `TraceHeader` field.
- Lambda Invoke (synchronous): `custom["X-Amzn-Trace-Id"]` in the client context, if it stays
  within 3,583 bytes. Every AWS call also carries the `X-Amzn-Trace-Id` HTTP header (written by the
  botocore patch), which is how Lambda (Invoke, InvokeAsync) and SNS/SQS active tracing continue it.
- Kinesis has nowhere to carry it: the producer's subsegment records shard and sequence number and
  the consumer records the same as a link, so the two can be joined by record identity.

The user's parameter dicts are never mutated: changed entries are copies.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable
from typing import Any

from lambda_tracing.propagation import header as trace_header

log = logging.getLogger(__name__)

TRACE_ATTRIBUTE = "AWSTraceHeader"
SNS_MAX_MESSAGE_ATTRIBUTES = 10
LAMBDA_MAX_CLIENT_CONTEXT_BYTES = 3583

Entry = dict[str, Any]


def with_sqs_trace(message: Entry, value: str) -> Entry:
    attributes = message.get("MessageSystemAttributes") or {}
    if not isinstance(attributes, dict) or TRACE_ATTRIBUTE in attributes:
        return message
    return _with_string_attribute(message, "MessageSystemAttributes", attributes, value)


def with_sns_trace(message: Entry, value: str) -> Entry:
    if message.get("PhoneNumber"):
        return message
    attributes = message.get("MessageAttributes") or {}
    if (
        not isinstance(attributes, dict)
        or TRACE_ATTRIBUTE in attributes
        or len(attributes) >= SNS_MAX_MESSAGE_ATTRIBUTES
    ):
        return message
    return _with_string_attribute(message, "MessageAttributes", attributes, value)


def _with_string_attribute(message: Entry, field: str, attributes: Entry, value: str) -> Entry:
    """A copy of `message` whose `field` (SQS system / SNS message attributes, one shape) also
    holds the trace header."""
    trace = {"DataType": "String", "StringValue": value}
    return {**message, field: {**attributes, TRACE_ATTRIBUTE: trace}}


def with_event_trace(entry: Entry, value: str) -> Entry:
    if entry.get("TraceHeader"):
        return entry
    return {**entry, "TraceHeader": value}


def with_invoke_trace(params: Entry, value: str) -> Entry:
    if params.get("InvocationType", "RequestResponse") != "RequestResponse":
        return params  # Lambda hands the client context to synchronous invocations only
    encoded = params.get("ClientContext")
    try:
        context = json.loads(base64.b64decode(encoded, validate=True)) if encoded else {}
    except (binascii.Error, ValueError, TypeError):
        return params
    custom = context.get("custom") if isinstance(context, dict) else None
    if not isinstance(context, dict) or not isinstance(custom or {}, dict):
        return params
    if trace_header.XRAY_HEADER in (custom or {}):
        return params
    context = {**context, "custom": {**(custom or {}), trace_header.XRAY_HEADER: value}}
    new_encoded = base64.b64encode(json.dumps(context, separators=(",", ":")).encode()).decode()
    if len(new_encoded) > LAMBDA_MAX_CLIENT_CONTEXT_BYTES:
        return params
    return {**params, "ClientContext": new_encoded}


def _single(transform: Callable[[Entry, str], Entry]) -> Callable[..., None]:
    def handler(params: Entry, **_: Any) -> None:
        try:
            value = trace_header.current_text()
            if value:
                params.update(transform(params, value))
        except Exception:
            log.debug("trace context not added to %s", transform.__name__, exc_info=True)

    return handler


def _batch(key: str, transform: Callable[[Entry, str], Entry]) -> Callable[..., None]:
    def handler(params: Entry, **_: Any) -> None:
        try:
            entries = params.get(key)
            value = trace_header.current_text() if isinstance(entries, list) else None
            if value and isinstance(entries, list):
                params[key] = [transform(e, value) if isinstance(e, dict) else e for e in entries]
        except Exception:
            log.debug("trace context not added to %s", transform.__name__, exc_info=True)

    return handler


# (botocore event name, handler); service names are botocore's hyphenized service ids.
HANDLERS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("before-parameter-build.sqs.SendMessage", _single(with_sqs_trace)),
    ("before-parameter-build.sqs.SendMessageBatch", _batch("Entries", with_sqs_trace)),
    ("before-parameter-build.sns.Publish", _single(with_sns_trace)),
    (
        "before-parameter-build.sns.PublishBatch",
        _batch("PublishBatchRequestEntries", with_sns_trace),
    ),
    ("before-parameter-build.eventbridge.PutEvents", _batch("Entries", with_event_trace)),
    ("before-parameter-build.lambda.Invoke", _single(with_invoke_trace)),
)
