"""Lambda's own X-Ray segments: AWS::Lambda (the service) and AWS::Lambda::Function."""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from lambda_tracing_local.runtime.environment import Outcome

_DAEMON_HEADER = b'{"format": "json", "version": 1}\n'


def new_trace_id(now: float | None = None) -> str:
    return f"1-{int(now or time.time()):08x}-{os.urandom(12).hex()}"


def new_entity_id() -> str:
    return os.urandom(8).hex()


def parse_trace_header(header: str | None) -> dict[str, str]:
    """`Root=...;Parent=...;Sampled=1` (any order, spaces tolerated) into a dict."""
    fields: dict[str, str] = {}
    for part in (header or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key:
            fields[key] = value
    return fields


@dataclass
class TraceContext:
    """What one invocation records under: continued from the caller or started here."""

    trace_id: str
    caller_parent: str | None
    sampled: bool
    service_segment_id: str
    function_segment_id: str

    @classmethod
    def for_invocation(cls, upstream: str | None) -> TraceContext:
        fields = parse_trace_header(upstream)
        root = fields.get("Root")
        return cls(
            trace_id=root or new_trace_id(),
            caller_parent=fields.get("Parent") if root else None,
            sampled=fields.get("Sampled") != "0",
            service_segment_id=new_entity_id(),
            function_segment_id=new_entity_id(),
        )

    def runtime_header(self) -> str:
        """Lambda-Runtime-Trace-Id: the function's work hangs under the function segment."""
        sampled = "1" if self.sampled else "0"
        return f"Root={self.trace_id};Parent={self.function_segment_id};Sampled={sampled}"

    def downstream_header(self) -> str:
        """What a caller sees as the trace of its Invoke: the service segment."""
        sampled = "1" if self.sampled else "0"
        return f"Root={self.trace_id};Parent={self.service_segment_id};Sampled={sampled}"


def lambda_segments(
    context: TraceContext,
    function_name: str,
    function_arn: str,
    outcome: Outcome,
    event_source: str | None = None,
    linked_traces: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The two documents Lambda sends for one sampled invocation."""
    start = outcome.invoke_started
    end = max(outcome.ready_at, outcome.finished_at)
    service: dict[str, Any] = {
        "name": function_name,
        "id": context.service_segment_id,
        "trace_id": context.trace_id,
        "start_time": start,
        "end_time": end,
        "origin": "AWS::Lambda",
        "resource_arn": function_arn,
        "http": {"response": {"status": 200}},
        "aws": {"request_id": outcome.request_id},
    }
    if context.caller_parent:
        service["parent_id"] = context.caller_parent
    if event_source:
        service["aws"]["event_source"] = event_source
    links = [parse_trace_header(header) for header in linked_traces or []]
    links = [link for link in links if link.get("Root") and link.get("Parent")]
    if links:  # the other messages of a batch: their traces point at this invocation
        service["links"] = [{"trace_id": link["Root"], "id": link["Parent"]} for link in links]
    function_start = outcome.init_started if outcome.init_started is not None else start
    subsegments = []
    if outcome.cold_start and outcome.init_started is not None:
        subsegments.append(
            _subsegment("Initialization", outcome.init_started, outcome.init_ended or end)
        )
    invocation_start = outcome.delivered_at or outcome.init_ended or start
    subsegments.append(_subsegment("Invocation", invocation_start, outcome.finished_at))
    if outcome.ready_at > outcome.finished_at:
        subsegments.append(_subsegment("Overhead", outcome.finished_at, outcome.ready_at))
    function: dict[str, Any] = {
        "name": function_name,
        "id": context.function_segment_id,
        "trace_id": context.trace_id,
        "parent_id": context.service_segment_id,
        "start_time": function_start,
        "end_time": end,
        "origin": "AWS::Lambda::Function",
        "resource_arn": function_arn,
        "aws": {"request_id": outcome.request_id},
        "subsegments": subsegments,
    }
    if outcome.function_error:
        function["fault"] = True
        function["cause"] = _with_exception_ids(outcome.xray_cause or _cause_from_payload(outcome))
        # An init failure never reached Invocation: the fault belongs to Initialization.
        failed_phase = "Invocation" if outcome.delivered_at is not None else "Initialization"
        for subsegment in subsegments:
            if subsegment["name"] == failed_phase:
                subsegment["fault"] = True
    return [service, function]


def _subsegment(name: str, start: float, end: float) -> dict[str, Any]:
    return {"name": name, "id": new_entity_id(), "start_time": start, "end_time": max(start, end)}


def _with_exception_ids(cause: dict[str, Any]) -> dict[str, Any]:
    """X-Ray gives every recorded exception an id; awslambdaric's report carries none."""
    exceptions = [
        {"id": new_entity_id(), **exception} if isinstance(exception, dict) else exception
        for exception in cause.get("exceptions") or []
    ]
    return {**cause, "exceptions": exceptions}


def _cause_from_payload(outcome: Outcome) -> dict[str, Any]:
    """No awslambdaric cause (timeout, crash, init error): describe it as Lambda does."""
    error = outcome.json() or {}
    return {
        "working_directory": "/var/task",
        "exceptions": [
            {
                "message": str(error.get("errorMessage", "")),
                "type": str(error.get("errorType", outcome.error_type or "Unhandled")),
            }
        ],
        "paths": [],
    }


class SegmentSender:
    """Sends documents to an X-Ray daemon address (`host:port`, as AWS_XRAY_DAEMON_ADDRESS)."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.target = (host, int(port))
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(self, documents: list[dict[str, Any]]) -> None:
        for document in documents:
            self._socket.sendto(_DAEMON_HEADER + json.dumps(document).encode(), self.target)

    def close(self) -> None:
        self._socket.close()
