"""Custom subsegments (lambda_tracing.subsegments) on the real X-Ray backend, in process.

Documents are captured with an in-memory emitter on the backend's recorder (the UDP path is
covered by the other test_downstream_* tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import json
import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from downstream_support import flatten, new_trace_header
from lambda_tracing import config
from lambda_tracing.backend import reset_backend
from lambda_tracing.backend.xray import XRayBackend
from lambda_tracing.subsegments import subsegment


class MemoryEmitter:
    def __init__(self) -> None:
        self.documents: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def send_entity(self, entity: Any) -> None:
        document = json.loads(entity.serialize())
        with self._lock:
            self.documents.append(document)

    def set_daemon_address(self, address: Any) -> None:
        pass


class Traced:
    def __init__(self, backend: XRayBackend, emitter: MemoryEmitter, root: str, parent: str):
        self.backend, self.emitter, self.root, self.parent = backend, emitter, root, parent

    def entities(self) -> list[dict[str, Any]]:
        return flatten(self.emitter.documents)

    def named(self, name: str) -> dict[str, Any]:
        (found,) = [e for e in self.entities() if e["name"] == name]
        return found


def traced_invocation(monkeypatch: pytest.MonkeyPatch, sampled: int = 1) -> Iterator[Traced]:
    header, root, parent = new_trace_header(sampled=sampled)
    monkeypatch.setenv("_X_AMZN_TRACE_ID", header)
    backend = XRayBackend(config.load(environ={}, context_missing="IGNORE_ERROR"))
    emitter = MemoryEmitter()
    backend.recorder.emitter = emitter
    previous = reset_backend(backend)
    try:
        yield Traced(backend, emitter, root, parent)
    finally:
        reset_backend(previous)


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> Iterator[Traced]:
    yield from traced_invocation(monkeypatch)


def test_50_asyncio_tasks_and_8_threads_each_get_the_right_parent(traced: Traced) -> None:
    async def task(number: int) -> None:
        async with subsegment(f"task-{number}", namespace="remote") as span:
            assert span is not None
            await asyncio.sleep(random.random() / 100)  # all 50 are open at once
            with subsegment(f"task-{number}-inner"):
                await asyncio.sleep(random.random() / 100)

    def thread_work(number: int) -> None:
        with subsegment(f"thread-{number}"):
            threading.Event().wait(random.random() / 100)
            with subsegment(f"thread-{number}-inner"):
                threading.Event().wait(random.random() / 100)

    async def fan_out() -> None:
        await asyncio.gather(*(task(n) for n in range(50)))

    with subsegment("fan-out") as parent:
        with ThreadPoolExecutor(max_workers=8) as pool:
            # Threads started under copy_context() continue the current subsegment.
            futures = [
                pool.submit(contextvars.copy_context().run, thread_work, n) for n in range(8)
            ]
            asyncio.run(fan_out())
            for future in futures:
                future.result()
        assert traced.backend.current_span() is parent

    entities = traced.entities()
    assert len(entities) == 1 + 50 * 2 + 8 * 2  # none lost
    assert len({e["id"] for e in entities}) == len(entities)
    fan = traced.named("fan-out")
    assert fan["parent_id"] == traced.parent
    for number in range(50):
        assert traced.named(f"task-{number}")["parent_id"] == fan["id"]
        inner = traced.named(f"task-{number}-inner")
        assert inner["parent_id"] == traced.named(f"task-{number}")["id"]
    for number in range(8):
        assert traced.named(f"thread-{number}")["parent_id"] == fan["id"]
        inner = traced.named(f"thread-{number}-inner")
        assert inner["parent_id"] == traced.named(f"thread-{number}")["id"]
    assert all(e["trace_id"] == traced.root for e in entities)
    assert all(not e.get("in_progress") for e in entities)


def test_a_plain_thread_attaches_to_the_functions_segment(traced: Traced) -> None:
    def work() -> None:
        with subsegment("worker"):
            pass

    with subsegment("handler-work"):
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    assert traced.named("worker")["parent_id"] == traced.parent
    assert traced.named("handler-work")["parent_id"] == traced.parent


def test_a_span_closed_after_its_parent_was_sent_goes_out_on_its_own(
    traced: Traced, segment_validator: Any
) -> None:
    """A thread that outlives the subsegment it started under: its span is still sent,
    as a streamed subsegment of the parent that has already gone."""
    opened, release = threading.Event(), threading.Event()

    def background() -> None:
        with subsegment("late-work", namespace="remote"):
            opened.set()
            release.wait(5)

    with subsegment("request") as request:
        thread = threading.Thread(target=contextvars.copy_context().run, args=(background,))
        thread.start()
        assert opened.wait(5)
    assert request is not None and request._sent
    (sent_with_parent,) = traced.emitter.documents
    # The parent's document shows the span as X-Ray shows an unfinished call.
    (unfinished,) = sent_with_parent["subsegments"]
    assert unfinished["name"] == "late-work" and unfinished["in_progress"] is True
    release.set()
    thread.join(5)

    late_documents = traced.emitter.documents[1:]
    assert [d["name"] for d in late_documents] == ["late-work"]
    (late,) = late_documents
    assert late["type"] == "subsegment"  # a document of its own, as X-Ray streams them
    assert late["parent_id"] == request.id and late["trace_id"] == traced.root
    assert late["end_time"] >= late["start_time"] and not late.get("in_progress")
    for document in traced.emitter.documents:
        assert [e.message for e in segment_validator.iter_errors(document)] == []


class ThreadWideState:
    """A ContextVar look-alike shared by every task of the thread, as the SDK's
    threading.local stack is."""

    def __init__(self) -> None:
        self.value: Any = None

    def get(self) -> Any:
        return self.value

    def set(self, value: Any) -> None:
        self.value = value


@pytest.mark.parametrize("parent_depth", ["top-level", "nested"])
def test_a_span_opened_after_its_parent_ended_is_still_sent(
    traced: Traced, segment_validator: Any, parent_depth: str
) -> None:
    """The thread starts under `step` and opens its span only after `step` has ended: the
    SDK's add_subsegment refuses an ended parent, so the span goes out as its own document,
    whether or not `step`'s top-level span has been sent by then."""
    ended, opened = threading.Event(), threading.Event()

    def background() -> None:
        ended.wait(5)
        with subsegment("after-the-fact") as span:
            assert span is not None
        opened.set()

    outer = subsegment("handler-work") if parent_depth == "nested" else contextlib.nullcontext()
    with outer:
        with subsegment("step") as step:
            thread = threading.Thread(target=contextvars.copy_context().run, args=(background,))
            thread.start()
        ended.set()
        assert opened.wait(5)
    thread.join(5)
    assert step is not None
    late = traced.named("after-the-fact")
    assert late["parent_id"] == step.id and late["trace_id"] == traced.root
    assert late["type"] == "subsegment" and not late.get("in_progress")
    sent_alone = [d for d in traced.emitter.documents if d["name"] == "after-the-fact"]
    assert sent_alone == [late]  # its own document, not inside step's
    for document in traced.emitter.documents:
        assert [e.message for e in segment_validator.iter_errors(document)] == []


def test_sent_spans_are_freed_without_the_garbage_collector(traced: Traced) -> None:
    """A child holds its parent weakly: once a tree is sent, reference counting frees it. A
    cycle (parent.subsegments -> child -> parent) left every traced call's spans, dicts and
    lists to the collector: memory and page faults on the per-call path."""
    from aws_xray_sdk.core.models.entity import Entity

    def invocation() -> None:
        with subsegment("request"), subsegment("call", namespace="remote") as call:
            with subsegment("inner", namespace="remote"):
                pass
            assert call is not None

    invocation()  # the first may make what every later one reuses
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(3):
            invocation()
        gc.collect()
        spans = [item for item in gc.garbage if isinstance(item, Entity)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()
    assert spans == []
    assert [d["name"] for d in traced.emitter.documents] == ["request"] * 4
    assert [c["name"] for c in traced.emitter.documents[-1]["subsegments"]] == ["call"]


def test_a_child_of_a_span_sent_on_its_own_is_sent_once(traced: Traced) -> None:
    """A thread outliving its parent P opens D (sent on its own) and C under it; D ends first
    and carries C. C ended again later by user code, while the top-level span is open, is not
    sent a second time: the walk from C to the top-level span does not stop at D, freed once
    sent (a child under a span sent on its own holds its parent strongly)."""
    backend = traced.backend
    top = backend.begin_subsegment("T")
    parent = backend.begin_subsegment("P")
    context = contextvars.copy_context()  # a thread started under P
    backend.end_subsegment(parent)
    del parent

    def worker() -> Any:
        detached = backend.begin_subsegment("D", "remote")
        child = backend.begin_subsegment("C", "remote")
        backend.end_subsegment(detached)  # C, left open, is closed with D and sent inside it
        return child

    child = context.run(worker)
    gc.collect()
    backend.end_subsegment(child)
    backend.end_subsegment(top)
    names = [entity["name"] for entity in traced.entities()]
    assert sorted(names) == ["C", "D", "P", "T"]


def test_without_task_local_storage_the_sdk_crosses_parents(traced: Traced) -> None:
    """The scenario above is sensitive: on a thread-wide stack, as the SDK's (#164), it goes
    wrong."""
    traced.backend._context._state = ThreadWideState()

    async def task(number: int) -> None:
        async with subsegment(f"task-{number}"):
            await asyncio.sleep(0.001 * (number % 3))

    async def fan_out() -> None:
        await asyncio.gather(*(task(n) for n in range(10)))

    with subsegment("fan-out"):
        asyncio.run(fan_out())
    fan_id = traced.named("fan-out")["id"]
    parents = [traced.named(f"task-{n}")["parent_id"] for n in range(10)]
    assert any(parent != fan_id for parent in parents)


def test_remote_node_fields_annotations_and_metadata(
    traced: Traced, segment_validator: Any
) -> None:
    @subsegment(
        "orders-db",
        namespace="remote",
        sql={"url": "postgresql://db:5432/orders", "database_type": "PostgreSQL", "bogus": 1},
        annotations={"table": "orders"},
        metadata={"rows": [1, 2]},
    )
    def query() -> str:
        return "result"

    @subsegment(
        "payments", namespace="remote", http={"method": "POST", "url": "https://pay.example/x"}
    )
    async def pay() -> int:
        return 201

    assert query() == "result"
    assert asyncio.run(pay()) == 201
    database = traced.named("orders-db")
    assert database["namespace"] == "remote"
    assert database["sql"] == {"url": "postgresql://db:5432/orders", "database_type": "PostgreSQL"}
    assert database["annotations"] == {"table": "orders"}
    assert database["metadata"] == {"default": {"rows": [1, 2]}}
    payments = traced.named("payments")
    assert payments["http"]["request"] == {"method": "POST", "url": "https://pay.example/x"}
    for document in traced.emitter.documents:
        assert [e.message for e in segment_validator.iter_errors(document)] == []


class PaymentDeclined(Exception):
    pass


def test_exceptions_are_recorded_and_reraised_unchanged(
    traced: Traced, segment_validator: Any
) -> None:
    error = PaymentDeclined("card declined")

    @subsegment
    def charge() -> None:
        raise error

    with pytest.raises(PaymentDeclined) as raised:
        charge()
    assert raised.value is error

    async def remote_call() -> None:
        async with subsegment("gateway", namespace="remote"):
            raise PaymentDeclined("gateway timeout")  # a new one: X-Ray refers to a seen one by id

    with pytest.raises(PaymentDeclined):
        asyncio.run(remote_call())

    # Named after the function (the backend makes the qualified name X-Ray-safe).
    (local,) = [e for e in traced.entities() if e["name"].endswith("charge")]
    assert local["fault"] is True
    (exception,) = local["cause"]["exceptions"]
    assert exception["type"] == "PaymentDeclined" and exception["message"] == "card declined"
    assert exception.get("remote", False) is False
    (remote,) = traced.named("gateway")["cause"]["exceptions"]
    assert remote["remote"] is True
    for document in traced.emitter.documents:
        assert [e.message for e in segment_validator.iter_errors(document)] == []


def test_unsampled_or_untraced_calls_run_and_record_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for traced in traced_invocation(monkeypatch, sampled=0):
        with subsegment("quiet") as span:
            assert span is None
        assert traced.emitter.documents == []
    monkeypatch.delenv("_X_AMZN_TRACE_ID")

    @subsegment("outside")
    def outside(value: int) -> int:
        return value * 2

    assert outside(21) == 42
