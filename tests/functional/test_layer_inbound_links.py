"""The handler subsegment records the upstream trace of every record of a batch event, and the
package exports the downstream helpers."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lambda_tracing

if TYPE_CHECKING:
    from lambda_tracing.testing import CapturedTraces

EVENTS = Path(__file__).resolve().parents[2] / "events"


@lambda_tracing.trace_handler
def consume(event: Any, context: Any) -> int:
    return len(event.get("Records", []))


def _sqs_batch(trace_ids: list[str]) -> dict[str, Any]:
    template = json.loads((EVENTS / "worker.json").read_text())["Records"][0]
    records = []
    for number, trace_id in enumerate(trace_ids):
        record = copy.deepcopy(template)
        record["messageId"] = f"message-{number}"
        record["attributes"]["AWSTraceHeader"] = f"Root={trace_id};Parent={number:016x};Sampled=1"
        records.append(record)
    return {"Records": records}


def test_every_record_of_an_sqs_batch_is_linked(lambda_tracing_capture: CapturedTraces) -> None:
    upstream = [f"1-5f000000-{number:024x}" for number in range(1, 11)]
    assert consume(_sqs_batch(upstream), None) == 10
    (sub,) = lambda_tracing_capture.subsegments("## consume")
    assert sub["annotations"]["event_source"] == "aws:sqs"
    linked = [link["trace_id"] for link in sub["metadata"]["lambda_tracing"]["links"]]
    assert linked == upstream
    assert all(trace in sub["annotations"]["upstream_trace_ids"] for trace in upstream)


def test_http_events_are_not_linked(lambda_tracing_capture: CapturedTraces) -> None:
    consume({"requestContext": {"elb": {}}, "headers": {}}, None)
    (sub,) = lambda_tracing_capture.subsegments("## consume")
    assert "event_source" not in sub.get("annotations", {})


def test_a_malformed_batch_is_traced_without_links(lambda_tracing_capture: CapturedTraces) -> None:
    assert consume({"Records": "not a list"}, None) == len("not a list")
    (sub,) = lambda_tracing_capture.subsegments("## consume")
    assert "links" not in sub.get("metadata", {}).get("lambda_tracing", {})


def test_downstream_helpers_are_exported() -> None:
    from lambda_tracing.records import records
    from lambda_tracing.subsegments import Subsegment, subsegment

    assert lambda_tracing.subsegment is subsegment
    assert lambda_tracing.Subsegment is Subsegment
    assert lambda_tracing.records is records
    assert lambda_tracing.records is records  # still the function after the module import


def test_a_wrong_subsegment_argument_never_breaks_the_call(
    lambda_tracing_capture: CapturedTraces,
) -> None:
    @lambda_tracing.trace_handler
    def handler(event: Any, context: Any) -> str:
        with lambda_tracing.subsegment(
            "db",
            sql=["not", "a", "mapping"],  # type: ignore[arg-type]
            annotations={"table": "orders"},
        ):
            return "done"

    assert handler({}, None) == "done"
    (custom,) = lambda_tracing_capture.subsegments("db")
    assert custom["annotations"] == {"table": "orders"}
    assert "sql" not in custom
