"""SQS event source mappings: poll moto's queue, invoke with batches, delete what succeeded."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import Any

from lambda_tracing_local.runtime import template as tpl
from lambda_tracing_local.runtime.aws_resources import MotoServer
from lambda_tracing_local.runtime.local_lambda import LocalLambda

log = logging.getLogger(__name__)


class SqsEventSource:
    """One mapping (function <- queue) served by `pollers` threads, as Lambda's pollers do."""

    def __init__(
        self,
        local_lambda: LocalLambda,
        function: str,
        queue_url: str,
        queue_arn: str,
        moto: MotoServer,
        batch_size: int = 10,
        report_item_failures: bool = False,
        pollers: int = 2,
    ) -> None:
        self.local_lambda = local_lambda
        self.function = function
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.batch_size = batch_size
        self.report_item_failures = report_item_failures
        self._sqs = moto.client("sqs")
        self._stopping = threading.Event()
        self._busy = 0
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._poll, daemon=True, name=f"sqs-{function}-{n}")
            for n in range(pollers)
        ]
        self.invocations = 0
        self.failed_invocations = 0

    def __enter__(self) -> SqsEventSource:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def wait_until_drained(self, timeout: float) -> bool:
        """True once the queue holds nothing, visible or in flight, and no batch is running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=self.queue_url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            waiting = sum(int(value) for value in attributes.values())
            with self._lock:
                busy = self._busy
            if waiting == 0 and busy == 0:
                return True
            time.sleep(0.2)
        return False

    def _poll(self) -> None:
        while not self._stopping.is_set():
            try:
                received = self._sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=self.batch_size,
                    WaitTimeSeconds=1,
                    MessageSystemAttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
                if received:
                    with self._lock:
                        self._busy += 1
                    try:
                        self._deliver(received)
                    finally:
                        with self._lock:
                            self._busy -= 1
            except Exception as error:  # moto gone at shutdown, or transient: back off, retry
                if self._stopping.wait(0.5):
                    return
                log.warning("SQS event source for %s: %s", self.function, error)

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        records = [self._record(message) for message in messages]
        # Lambda continues the first message's trace; the others are linked from the segment.
        upstream = records[0]["attributes"].get("AWSTraceHeader")
        links = [
            record["attributes"]["AWSTraceHeader"]
            for record in records[1:]
            if "AWSTraceHeader" in record["attributes"]
        ]
        result = self.local_lambda.invoke(
            self.function,
            {"Records": records},
            upstream_trace=upstream,
            event_source="aws:sqs",
            linked_traces=links,
        )
        self.invocations += 1
        if result.function_error:
            self.failed_invocations += 1
            return  # the batch becomes visible again after the visibility timeout
        failed: set[str] = set()
        if self.report_item_failures and isinstance(result.payload, dict):
            for item in result.payload.get("batchItemFailures") or []:
                failed.add(str(item.get("itemIdentifier")))
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)
                ],
            )

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        body = message.get("Body", "")
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": body,
            "attributes": dict(message.get("Attributes") or {}),
            "messageAttributes": {
                name: _lower_first_keys(value)
                for name, value in (message.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),  # noqa: S324
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": tpl.REGION,
        }


def _lower_first_keys(attribute: dict[str, Any]) -> dict[str, Any]:
    """SQS API says StringValue/DataType; the Lambda event says stringValue/dataType."""
    return {key[:1].lower() + key[1:]: value for key, value in attribute.items()}


def mappings_of(local_lambda: LocalLambda, moto: MotoServer) -> list[SqsEventSource]:
    """An SqsEventSource for every SQS event in the template (Queue given as the queue's ARN)."""
    sources = []
    values = local_lambda.resolver.values
    url_of_arn = {
        arn: values.refs[logical_id]
        for (logical_id, attribute), arn in values.attributes.items()
        if attribute == "Arn" and arn.startswith("arn:aws:sqs:")
    }
    for spec in local_lambda.functions.values():
        for props in spec.events_of_type("SQS"):
            arn = str(local_lambda.resolver.resolve(props["Queue"]))
            if arn not in url_of_arn:
                raise tpl.TemplateError(f"{spec.name}: SQS queue {arn} was not created locally")
            sources.append(
                SqsEventSource(
                    local_lambda,
                    spec.name,
                    url_of_arn[arn],
                    arn,
                    moto,
                    batch_size=int(props.get("BatchSize", 10)),
                    report_item_failures="ReportBatchItemFailures"
                    in (props.get("FunctionResponseTypes") or []),
                )
            )
    return sources
