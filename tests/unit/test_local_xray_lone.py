"""Lone root segments added up in bulk (lone.py) draw the graph the projections draw."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lambda_tracing_local.xray import lone
from lambda_tracing_local.xray.graph import ServiceGraph, project
from lambda_tracing_local.xray.store import TraceStore

T0 = 1_700_000_000
QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/orders"

times = st.one_of(st.integers(0, 50), st.floats(0, 50, allow_nan=False)).map(lambda t: T0 + t)
statuses = st.sampled_from([None, 200, 400, 404, 429, 500, 503])
flags = st.fixed_dictionaries(
    {}, optional={"error": st.booleans(), "fault": st.booleans(), "throttle": st.booleans()}
)
calls = st.sampled_from(
    [
        {"name": "DynamoDB", "namespace": "aws", "aws": {"table_name": "orders"}},
        {"name": "DynamoDB", "namespace": "aws", "aws": {"table_name": "stock"}},
        {"name": "SQS", "namespace": "aws", "aws": {"queue_url": QUEUE}},
        {"name": "api.test", "namespace": "remote", "http": {"request": {"url": "http://a.test/"}}},
        {"name": "db@host", "namespace": "remote", "sql": {"url": "db@host"}},
        {"name": "local work"},
    ]
)


@st.composite
def element(draw: Any, base: dict[str, Any], number: int) -> dict[str, Any]:
    start = draw(times)
    document = {**base, "id": f"{number:016x}", "start_time": start, **draw(flags)}
    if draw(st.integers(0, 5)) == 0:
        document["in_progress"] = True
    else:
        document["end_time"] = start + draw(st.sampled_from([0, 0.0004, 0.02, 1.5]))
    status = draw(statuses)
    if status is not None:
        document["http"] = {**document.get("http", {}), "response": {"status": status}}
    return document


@st.composite
def traces(draw: Any) -> list[dict[str, Any]]:
    """Documents of a few traces: most one root segment alone (with or without an account,
    a parent, calls in progress, twice the same target, an SQS send), some with a second
    segment or a streamed subsegment."""
    documents: list[dict[str, Any]] = []
    number = 1
    for trace in range(draw(st.integers(1, 12))):
        trace_id = f"1-{T0:08x}-{trace:024x}"
        name = draw(st.sampled_from(["orders", "payments"]))
        root = {"name": name, "trace_id": trace_id}
        if draw(st.booleans()):
            root["origin"] = "AWS::Lambda::Function"
        if draw(st.integers(0, 3)) == 0:
            root["aws"] = {"account_id": "123456789012"}
        if draw(st.integers(0, 5)) == 0:
            root["parent_id"] = "f" * 16
        segment = draw(element(root, number))
        children = []
        for call in draw(st.lists(calls, max_size=4)):
            number += 1
            children.append(draw(element(call, number)))
        if children:
            segment["subsegments"] = children
        number += 1
        documents.append(segment)
        extra = draw(st.integers(0, 4))
        if extra == 1:  # the service it called, traced
            called = {"name": "api.test", "trace_id": trace_id, "parent_id": segment["id"]}
            documents.append(draw(element(called, number)))
        elif extra == 2 and children:  # a subsegment streamed on its own as well
            streamed = {**children[0], "trace_id": trace_id, "type": "subsegment"}
            documents.append({**streamed, "parent_id": segment["id"]})
        number += 1
    return documents


def normalised(value: Any) -> Any:
    """Histograms are sets of {Value, Count}: their order follows the rows' order."""
    if isinstance(value, dict):
        return {key: normalised(item) for key, item in value.items()}
    if isinstance(value, list):
        items = [normalised(item) for item in value]
        if items and all(isinstance(i, dict) and set(i) == {"Value", "Count"} for i in items):
            return sorted(items, key=lambda item: item["Value"])
        return items
    return value


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(documents=traces(), window=st.sampled_from([(0, 100), (0, 20), (30, 100)]))
def test_the_graph_of_lone_roots_is_the_graph_of_their_projections(
    tmp_path: Path, documents: list[dict[str, Any]], window: tuple[int, int]
) -> None:
    store = TraceStore(tmp_path / f"{len(list(tmp_path.iterdir()))}.sqlite3")
    store.put(documents)
    start, end = T0 + window[0], T0 + window[1]
    lone_roots, projections = store.graph_between(start, end)
    bulk = ServiceGraph((start, end)).add_lone_roots(lone_roots).add_projections(projections)
    one_by_one = ServiceGraph((start, end)).add_projections(store.projections_between(start, end))
    assert normalised(bulk.services()) == normalised(one_by_one.services())
    store.close()


def test_only_lone_root_shapes_get_columns() -> None:
    root: dict[str, Any] = {"name": "orders", "id": "1" * 16, "trace_id": f"1-{T0:08x}-{0:024x}"}
    root.update(start_time=T0, end_time=T0 + 1)
    shape, packed = lone.columns(project(root))
    assert shape is not None and packed is not None and len(packed) == 4 * 8
    assert lone.columns(project({**root, "parent_id": "2" * 16})) == (None, None)
    send: dict[str, Any] = {
        "name": "SQS",
        "id": "3" * 16,
        "namespace": "aws",
        "aws": {"queue_url": QUEUE},
    }
    send.update(start_time=T0, end_time=T0 + 1)
    assert lone.columns(project({**root, "subsegments": [send]})) == (None, None)
    streamed = {**send, "trace_id": root["trace_id"], "type": "subsegment", "parent_id": "1" * 16}
    assert lone.columns(project(streamed)) == (None, None)
