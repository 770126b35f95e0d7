"""How links are recorded on a span (lambda_tracing.sources.links)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from lambda_tracing.sources.links import Link, record_on, upstream_trace_ids


class Span:
    def __init__(self, sampled: bool = True) -> None:
        self.sampled = sampled
        self.annotations: dict[str, Any] = {}
        self.metadata: dict[str, dict[str, Any]] = {}

    def put_annotation(self, key: str, value: Any) -> None:
        self.annotations[key] = value

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self.metadata.setdefault(namespace, {})[key] = value


def root(number: int) -> str:
    return f"1-5759e988-{number:024x}"


def test_links_become_metadata_and_searchable_annotations() -> None:
    links = [
        Link("aws:sqs", root(1), "53995c3f42cd8ad8", 1, "m1", "arn:q"),
        Link("aws:sqs", root(1), "63995c3f42cd8ad8", 1, "m2", "arn:q"),
        Link("aws:sqs", root(2), None, None, "m3", "arn:q"),
        Link("aws:sqs", record_id="m4", attributes={"shard_id": "s"}),
    ]
    span = Span()
    record_on(span, links, "aws:sqs")
    assert span.annotations == {
        "event_source": "aws:sqs",
        "upstream_trace_ids": f"{root(1)},{root(2)}",
    }
    assert span.metadata["lambda_tracing"]["links"] == [
        {"source": "aws:sqs", "trace_id": root(1), "parent_id": "53995c3f42cd8ad8", "sampled": 1,
         "record_id": "m1", "resource": "arn:q"},
        {"source": "aws:sqs", "trace_id": root(1), "parent_id": "63995c3f42cd8ad8", "sampled": 1,
         "record_id": "m2", "resource": "arn:q"},
        {"source": "aws:sqs", "trace_id": root(2), "record_id": "m3", "resource": "arn:q"},
        {"source": "aws:sqs", "record_id": "m4", "attributes": {"shard_id": "s"}},
    ]  # fmt: skip


def test_unsampled_or_missing_spans_get_nothing() -> None:
    span = Span(sampled=False)
    record_on(span, [Link("aws:sqs", root(1))], "aws:sqs")
    assert span.annotations == {} and span.metadata == {}
    record_on(None, [Link("aws:sqs", root(1))], "aws:sqs")


@given(st.lists(st.integers(min_value=0, max_value=2**40), max_size=60))
def test_upstream_trace_ids_fit_the_annotation_limit_with_whole_ids(numbers: list[int]) -> None:
    links = [Link("aws:sqs", root(number)) for number in numbers]
    value = upstream_trace_ids(links)
    assert len(value) <= 1000
    ids = value.split(",") if value else []
    distinct = list(dict.fromkeys(root(number) for number in numbers))
    assert ids == distinct[: len(ids)]  # in order, no duplicates, none cut in half
    assert len(ids) == min(len(distinct), 27)  # 27 ids of 35 characters and 26 commas fit
