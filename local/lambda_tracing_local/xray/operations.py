"""The X-Ray operations over the store: request dicts in, response dicts out (botocore shapes).

Requests arrive already checked against botocore's input shapes (see api.py); what is left
here are the rules the model cannot express, reported as X-Ray's InvalidRequestException.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .documents import InvalidDocument, Notes, filterable_annotation, loads_json, parse_document
from .filters import FilterError, TraceFacts, compile_filter
from .gcpause import gc_paused
from .graph import ServiceGraph, inferred_identity
from .ingest import BatchResult
from .store import TraceStore, row_for
from .traces import assemble, end_of, summarise, walk

DEFAULT_GROUP = {
    "GroupName": "Default",
    "GroupARN": "arn:aws:xray:us-east-1:000000000000:group/Default",
    "InsightsConfiguration": {"InsightsEnabled": False, "NotificationsEnabled": False},
}
TRACE_SUMMARIES_PAGE = 100


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def invalid(message: str) -> ApiError:
    return ApiError("InvalidRequestException", message)


LATEST_TIMESTAMP = 253402300799.0  # 9999-12-31T23:59:59Z


def epoch(value: Any, name: str) -> float:
    """A request timestamp (epoch seconds, as botocore sends them, or ISO 8601) in seconds."""
    if isinstance(value, bool):
        raise invalid(f"{name} must be a timestamp")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, datetime):
        seconds = value.timestamp()
    else:
        try:
            from botocore.utils import parse_timestamp

            seconds = float(parse_timestamp(value).timestamp())
        except (ValueError, TypeError, RuntimeError, OverflowError):
            raise invalid(f"{name} is not a timestamp: {value!r}") from None
    if not 0 <= seconds <= LATEST_TIMESTAMP:  # also false for NaN
        raise invalid(f"{name} is out of range: {value!r}")
    return seconds


def time_range(request: dict[str, Any]) -> tuple[float, float]:
    start, end = epoch(request["StartTime"], "StartTime"), epoch(request["EndTime"], "EndTime")
    if end < start:
        raise invalid("EndTime must not be earlier than StartTime")
    return start, end


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str | None) -> int:
    if token is None:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise invalid(f"NextToken is not one this server issued: {token[:40]!r}") from None
    if not isinstance(offset, int) or offset < 0:
        raise invalid("NextToken is not one this server issued")
    return offset


def page(items: list, token: str | None, size: int | None) -> tuple[list, str | None]:
    offset = decode_token(token)
    if size is None:
        return items[offset:], None
    end = offset + size
    return items[offset:end], encode_token(end) if end < len(items) else None


SUMMARY_FLAGS = (("fault", "HasFault"), ("error", "HasError"), ("throttle", "HasThrottle"))


def facts(summary: dict[str, Any], segments: list[dict[str, Any]]) -> TraceFacts:
    flags = {flag for flag, key in SUMMARY_FLAGS if summary[key]} or {"ok"}
    if summary["IsPartial"]:
        flags.add("partial")
    services = {segment["name"] for segment in segments}
    for segment in segments:
        for element in walk(segment):
            identity = inferred_identity(element) if element is not segment else None
            if identity:
                services.add(identity[0])
    annotations: dict[str, list[Any]] = {}
    for segment in segments:
        for element in walk(segment):
            found = element.get("annotations")
            for key, value in found.items() if isinstance(found, dict) else ():
                # Keys filters cannot name, and values they cannot compare, are kept in
                # the trace but found by no filter (see documents.filterable_annotation).
                if filterable_annotation(key, value):
                    annotations.setdefault(key, []).append(value)
    http = summary["Http"]
    fields = {"responsetime": summary["ResponseTime"], "duration": summary["Duration"]}
    for name, key in (
        ("http.status", "HttpStatus"),
        ("http.url", "HttpURL"),
        ("http.method", "HttpMethod"),
    ):
        if key in http:
            fields[name] = http[key]
    if summary["Users"]:
        fields["user"] = summary["Users"][0]["UserName"]
    return TraceFacts(flags, services, annotations, fields)


class Operations:
    def __init__(
        self,
        store: TraceStore,
        service_graph_page: int | None = None,
        on_documents: Callable[[int, BatchResult], None] | None = None,
    ) -> None:
        self.store = store
        self.service_graph_page = service_graph_page
        # callback(stored, what was rejected and noted) for the daemon's counts and log
        self.on_documents = on_documents

    def put_trace_segments(self, request: dict[str, Any]) -> dict[str, Any]:
        """Store each document X-Ray would store; each other one is answered in
        UnprocessedTraceSegments with X-Ray's ErrorCode and the field at fault."""
        rows, unprocessed = [], []
        now = time.time()
        texts = request["TraceSegmentDocuments"]
        outcome = BatchResult(len(texts))
        notes = Notes()
        for text in texts:
            try:
                rows.append(row_for(parse_document(text, notes), now, text))
            except InvalidDocument as error:
                outcome.rejected[error.kind] += 1
                outcome.messages.append(str(error)[:500])
                unprocessed.append(
                    {
                        "Id": _document_id(text),
                        "ErrorCode": error.code,
                        "Message": error.message[:500],
                    }
                )
        for kind, note in notes:
            outcome.noted[kind] += 1
            outcome.notes.append(note)
        if rows:
            self.store.write_rows(rows)
        if self.on_documents is not None:
            self.on_documents(len(rows), outcome)
        return {"UnprocessedTraceSegments": unprocessed}

    def batch_get_traces(self, request: dict[str, Any]) -> dict[str, Any]:
        trace_ids = request["TraceIds"]
        found = self.store.documents_of(trace_ids)
        traces = []
        for trace_id in dict.fromkeys(trace_ids):
            segments = assemble(found.get(trace_id, []))
            if not segments:  # unknown, or only subsegments whose segment has not arrived
                found.pop(trace_id, None)
                continue
            start = min(s["start_time"] for s in segments)
            end = max(end_of(s) for s in segments)
            traces.append(
                {
                    "Id": trace_id,
                    "Duration": round(end - start, 3),
                    "LimitExceeded": False,
                    "Segments": [{"Id": s["id"], "Document": json.dumps(s)} for s in segments],
                }
            )
        unprocessed = [t for t in dict.fromkeys(trace_ids) if t not in found]
        return {"Traces": traces, "UnprocessedTraceIds": unprocessed}

    def get_trace_summaries(self, request: dict[str, Any]) -> dict[str, Any]:
        start, end = time_range(request)
        try:
            matches = compile_filter(request.get("FilterExpression"))
        except FilterError as error:
            raise invalid(f"Invalid FilterExpression: {error}") from None
        trace_ids = self.store.trace_ids_between(start, end)
        chosen, token = page(trace_ids, request.get("NextToken"), TRACE_SUMMARIES_PAGE)
        documents = self.store.documents_of(chosen)
        summaries = []
        for trace_id in chosen:
            segments = assemble(documents.get(trace_id, []))
            if not segments:
                continue
            summary = summarise(trace_id, segments)
            if matches(facts(summary, segments)):
                summaries.append(summary)
        response: dict[str, Any] = {
            "TraceSummaries": summaries,
            "ApproximateTime": float(int(time.time())),
            "TracesProcessedCount": len(chosen),
        }
        if token:
            response["NextToken"] = token
        return response

    def get_service_graph(self, request: dict[str, Any]) -> dict[str, Any]:
        start, end = time_range(request)
        self._check_group(request)
        with gc_paused():
            graph = ServiceGraph((start, end))
            lone_roots, projections = self.store.graph_between(start, end)
            graph.add_lone_roots(lone_roots).add_projections(projections)
            del lone_roots, projections
            services = graph.services()
            # Free the projections while the collector is still paused: resumed with them
            # alive, its next pass would scan all of them (~0.3 s over 100,000 segments).
            del graph
        chosen, token = page(services, request.get("NextToken"), self.service_graph_page)
        response: dict[str, Any] = {
            "StartTime": start,
            "EndTime": end,
            "Services": chosen,
            "ContainsOldGroupVersions": False,
        }
        if token:
            response["NextToken"] = token
        return response

    def get_trace_graph(self, request: dict[str, Any]) -> dict[str, Any]:
        projections = self.store.projections_of(request["TraceIds"])
        services = ServiceGraph().add_projections(projections).services()
        chosen, token = page(services, request.get("NextToken"), self.service_graph_page)
        return {"Services": chosen, **({"NextToken": token} if token else {})}

    def get_groups(self, request: dict[str, Any]) -> dict[str, Any]:
        decode_token(request.get("NextToken"))
        return {"Groups": [dict(DEFAULT_GROUP)]}

    def get_group(self, request: dict[str, Any]) -> dict[str, Any]:
        if "GroupName" not in request and "GroupARN" not in request:
            raise invalid("GetGroup needs GroupName or GroupARN")
        self._check_group(request)
        return {"Group": dict(DEFAULT_GROUP)}

    @staticmethod
    def _check_group(request: dict[str, Any]) -> None:
        for parameter in ("GroupName", "GroupARN"):
            value = request.get(parameter)
            if value not in (None, DEFAULT_GROUP[parameter]):
                raise invalid(
                    f"Group not found: {parameter} {value!r} (local X-Ray has only the group"
                    f" {DEFAULT_GROUP['GroupName']!r}, {DEFAULT_GROUP['GroupARN']})"
                )


def _document_id(text: Any) -> str:
    try:
        identifier = loads_json(text).get("id")
    except (ValueError, TypeError, AttributeError, RecursionError):
        return ""
    return identifier if isinstance(identifier, str) else ""
