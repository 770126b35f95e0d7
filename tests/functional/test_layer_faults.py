"""Acceptance 2: the fault-injection matrix. Never break the function.

One set of user handlers runs bare and under the layer, under each fault (no daemon, unresolvable
daemon, hostile `_X_AMZN_TRACE_ID`s, the X-Ray SDK raising inside begin/end/emit, metadata over
64 KB...). In every case the return value and the exception (the same object: type, message,
traceback origin) must equal the bare handler's. The number of cases is printed.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lambda_tracing
import pytest
from lambda_tracing import config
from lambda_tracing.backend import get_backend, reset_backend
from lambda_tracing.backend.emitter import UDPEmitter
from lambda_tracing.backend.xray import XRayBackend
from layer_support import build_layer, new_trace_header, run_through_wrapper, udp_listener

# --------------------------------------------------------------------------- user handlers

SENTINEL = object()
raised: list[BaseException] = []


class CustomError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"custom failure {code}")
        self.code = code


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("cannot print me")


class Unserialisable:
    def __init__(self) -> None:
        self.when = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        self.tags = {"a", "b"}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unserialisable) and vars(self) == vars(other)

    def __repr__(self) -> str:
        raise RuntimeError("repr must not be called by the layer")


def returns_dict(event: Any, context: Any) -> Any:
    return {"statusCode": 200, "body": json.dumps({"ok": True}), "headers": {"Cookie": "s"}}


def returns_none(event: Any, context: Any) -> Any:
    return None


def returns_sentinel(event: Any, context: Any) -> Any:
    return SENTINEL


def returns_unserialisable(event: Any, context: Any) -> Any:
    return {"value": Unserialisable(), "raw": b"\xff", "nan": float("inf")}


def returns_generator(event: Any, context: Any) -> Any:
    return (n * n for n in range(5))


def returns_huge(event: Any, context: Any) -> Any:
    return {
        "statusCode": 500,
        "requestContext": 1,
        "rows": [{"id": i, "text": "x" * 900} for i in range(300)],
    }


def raises_builtin(event: Any, context: Any) -> Any:
    error = ValueError("bad value")
    raised.append(error)
    raise error


def raises_custom(event: Any, context: Any) -> Any:
    error = CustomError(42)
    raised.append(error)
    raise error


def raises_unprintable(event: Any, context: Any) -> Any:
    error = UnprintableError()
    raised.append(error)
    raise error


def raises_huge_message(event: Any, context: Any) -> Any:
    error = RuntimeError("m" * 1_000_000)
    raised.append(error)
    raise error


def raises_deep(event: Any, context: Any, depth: int = 0) -> Any:
    if depth == 200:
        error = LookupError("deep")
        raised.append(error)
        raise error
    return raises_deep(event, context, depth + 1)


def threads_make_subsegments(event: Any, context: Any) -> Any:
    results: list[int] = []

    def work(n: int) -> None:
        backend = get_backend()
        span = backend.begin_subsegment(f"thread work {n}")
        try:
            results.append(n)
        finally:
            backend.end_subsegment(span)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(results)


HANDLERS: list[Callable[[Any, Any], Any]] = [
    returns_dict,
    returns_none,
    returns_sentinel,
    returns_unserialisable,
    returns_generator,
    returns_huge,
    raises_builtin,
    raises_custom,
    raises_unprintable,
    raises_huge_message,
    raises_deep,
    threads_make_subsegments,
]
EVENT = {
    "requestContext": {"http": {"method": "GET"}},
    "headers": {"authorization": "x"},
    "blob": "e" * 70_000,
}

# --------------------------------------------------------------------------- faults

VALID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
HEADERS = {
    "header empty": "",
    "header garbage": "garbage;;==;;",
    "header oversize": VALID + ";Junk=" + "j" * 100_000,
    "header oversize root": "Root=1-" + "a" * 10_000 + ";Parent=53995c3f42cd8ad8;Sampled=1",
    "header Sampled=0": VALID.replace("Sampled=1", "Sampled=0"),
    "header missing Parent": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
    "header bad ids": "Root=1-XYZ-not-hex;Parent=short;Sampled=1",
    "header unicode": "Root=1-5759e988-bd862e3fe1be46a99427279\u00e9;Parent=\u2603;Sampled=1",
    "header repeated keys": VALID + ";Sampled=1=1;Root=",
}


def _raise(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("injected X-Ray SDK failure")


class RaisingEmitter:
    def send_entity(self, entity: Any) -> None:
        _raise()


@contextmanager
def fault(
    name: str, monkeypatch: pytest.MonkeyPatch, daemon_address: str, closed_address: str
) -> Iterator[dict[str, Any]]:
    """Set up one fault; yields the settings overrides for the traced handler."""
    from aws_xray_sdk.core.models.entity import Entity

    overrides: dict[str, Any] = {}
    monkeypatch.setenv("_X_AMZN_TRACE_ID", new_trace_header())
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", daemon_address)
    if name in HEADERS:
        monkeypatch.setenv("_X_AMZN_TRACE_ID", HEADERS[name])
    elif name == "no trace header":
        monkeypatch.delenv("_X_AMZN_TRACE_ID")
    elif name == "no daemon listening":
        monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", closed_address)
    elif name == "unresolvable daemon address":
        monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", "no-such-host.invalid:2000")
    elif name == "daemon address garbage":
        monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", "::garbage::")
    elif name == "metadata over 64 KB":
        overrides = {
            "capture_event": True,
            "capture_response": True,
            "max_metadata_bytes": 60000,
            "max_value_length": 65536,
        }
    reset_backend(None)
    backend = get_backend()
    if name == "SDK raises in begin":
        monkeypatch.setattr(backend._context, "attach", _raise)
    elif name == "SDK raises in end":
        monkeypatch.setattr(backend._span_class, "close", _raise)
    elif name == "SDK raises in emit":
        backend.emitter = RaisingEmitter()
    elif name == "SDK raises in to_dict":
        monkeypatch.setattr(backend._span_class, "to_dict", _raise)
    elif name == "SDK raises in add_exception":
        monkeypatch.setattr(Entity, "add_exception", _raise)
    elif name == "SDK raises in put_metadata":
        monkeypatch.setattr(backend._span_class, "put_metadata", _raise)
    elif name == "SDK raises in trace entity lookup":
        monkeypatch.setattr(backend._context, "get_trace_entity", _raise)
    try:
        yield overrides
    finally:
        reset_backend(None)


FAULTS = [
    "healthy",
    "no trace header",
    "no daemon listening",
    "unresolvable daemon address",
    "daemon address garbage",
    *HEADERS,
    "SDK raises in begin",
    "SDK raises in end",
    "SDK raises in emit",
    "SDK raises in to_dict",
    "SDK raises in add_exception",
    "SDK raises in put_metadata",
    "SDK raises in trace entity lookup",
    "metadata over 64 KB",
]

# --------------------------------------------------------------------------- comparison


def _message(error: BaseException) -> str:
    try:
        return str(error)
    except Exception as failure:  # noqa: BLE001
        return f"<unprintable: {failure}>"


def outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    raised.clear()
    try:
        value = call()
    except BaseException as error:  # noqa: BLE001 - comparing everything
        origin = traceback.extract_tb(error.__traceback__)[-1]
        same_object = bool(raised) and error is raised[-1]
        return (
            "raised",
            type(error),
            _message(error),
            (origin.filename, origin.lineno, origin.name),
            same_object,
        )
    if type(value).__name__ == "generator":
        return ("returned generator", list(value))
    if value is SENTINEL:
        return ("returned sentinel",)
    return ("returned", value)


def test_fault_matrix(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    cases = 0
    mismatches: list[str] = []
    with udp_listener() as daemon, udp_listener() as closed:
        closed_address = closed.address
        closed.close()  # nothing listens there any more
        for fault_name in FAULTS:
            with (
                monkeypatch.context() as patcher,
                fault(fault_name, patcher, daemon.address, closed_address) as overrides,
            ):
                for handler in HANDLERS:
                    traced = lambda_tracing.trace_handler(**overrides)(handler)
                    assert traced is not handler or fault_name == "daemon address garbage"
                    bare = outcome(functools.partial(handler, EVENT, None))
                    under_layer = outcome(functools.partial(traced, EVENT, None))
                    cases += 1
                    if bare != under_layer:
                        mismatches.append(
                            f"{fault_name} / {handler.__name__}: "
                            f"{bare!r:.300} != {under_layer!r:.300}"
                        )
        documents = daemon.receive(quiet_for=0.2)
    with capsys.disabled():
        print(
            f"\nfault matrix: {cases} cases ({len(FAULTS)} faults x {len(HANDLERS)} "
            f"handlers), {len(mismatches)} mismatches, {len(documents)} documents received"
        )
    assert not mismatches, "\n".join(mismatches)
    assert cases == len(FAULTS) * len(HANDLERS)
    # What did reach the daemon is valid and within the limit (checked by the listener).
    assert documents
    big = [d for d in documents if "lambda_tracing" in json.dumps(d.get("metadata", {}))]
    assert big, "the 64 KB case should have produced a truncation marker"


def test_metadata_over_64kb_arrives_trimmed_and_valid(
    monkeypatch: pytest.MonkeyPatch, segment_validator: Any
) -> None:
    with udp_listener() as daemon:
        monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", daemon.address)
        monkeypatch.setenv("_X_AMZN_TRACE_ID", new_trace_header())
        reset_backend(XRayBackend(config.load(enabled=True)))
        try:
            traced = lambda_tracing.trace_handler(
                capture_event=True, max_metadata_bytes=60000, max_value_length=65536
            )(returns_huge)
            assert traced(EVENT, None) == returns_huge(EVENT, None)
            with pytest.raises(RuntimeError) as failure:
                lambda_tracing.trace_handler(raises_huge_message)(EVENT, None)
            assert len(str(failure.value)) == 1_000_000
            documents = daemon.receive()
        finally:
            reset_backend(None)
    for document in documents:
        segment_validator.validate(document)
    by_name = {d["name"]: d for d in documents}
    huge = by_name["## returns_huge"]
    assert huge["fault"] is True and huge["http"]["response"]["status"] == 500
    assert huge["metadata"]["lambda_tracing"]["truncated"] is True
    assert huge["annotations"]["ColdStart"] in (True, False)
    message = by_name["## raises_huge_message"]["cause"]["exceptions"][0]["message"]
    assert 1000 < len(message) < 2000 and "truncated" in message


def test_untraced_runs_are_silent(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Outside Lambda, with no header: nothing logged at warning, nothing sent."""
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    with udp_listener() as daemon:
        monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", daemon.address)
        reset_backend(None)
        try:
            with caplog.at_level("WARNING"):
                for handler in (returns_dict, threads_make_subsegments):
                    assert lambda_tracing.trace_handler(handler)(EVENT, None) == handler(
                        EVENT, None
                    )
                backend = get_backend()
                span = backend.begin_subsegment("outside")
                backend.end_subsegment(span)
                assert span is None and backend.trace_header() is None
            assert daemon.receive(quiet_for=0.2) == []
        finally:
            reset_backend(None)
    assert [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")] == []


# --------------------------------------------------------------- runtime-level (issue 17)

THREADED_APP = """
import http.server
import threading

import urllib3

seen = []


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        seen.append(self.headers.get("X-Amzn-Trace-Id"))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
URL = f"http://127.0.0.1:{server.server_address[1]}/"


def handler(event, context):
    barrier = threading.Barrier(10)
    statuses = []

    def calls():
        pool = urllib3.PoolManager()
        barrier.wait()  # all ten at once: the first call of each loads the SDK together
        for _ in range(5):
            statuses.append(pool.request("GET", URL).status)

    threads = [threading.Thread(target=calls) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"statuses": statuses, "headers": list(seen)}
"""


def test_ten_threads_on_the_first_invocation_record_every_call(
    tmp_path: Path, segment_validator: Any
) -> None:
    """Issue 17 acceptance 3: 2-3 of these 50 calls used to go unrecorded and without a trace
    header (`partially initialized module 'aws_xray_sdk.core.models.trace_header'`): the SDK's
    lazy load raced between the threads."""
    wrapper = build_layer(tmp_path / "opt")
    task = tmp_path / "task"
    task.mkdir()
    (task / "app.py").write_text(THREADED_APP)
    header = new_trace_header()
    with udp_listener() as daemon:
        report = run_through_wrapper(
            wrapper,
            task,
            "app.handler",
            {"AWS_XRAY_DAEMON_ADDRESS": daemon.address, "PYTHONDONTWRITEBYTECODE": "1"},
            [{"event": {}, "trace_header": header}],
        )
        documents = daemon.receive()
    result = report["results"][0]["return"]
    assert result["statuses"] == [200] * 50
    root = header.split(";")[0].removeprefix("Root=")
    assert len(result["headers"]) == 50
    assert all(seen and seen.startswith(f"Root={root};") for seen in result["headers"]), (
        result["headers"],
        report["stderr"],
    )
    for document in documents:
        segment_validator.validate(document)
    remote = [
        entity
        for document in documents
        for entity in _entities(document)
        if entity.get("namespace") == "remote"
    ]
    assert len(remote) == 50, report["stderr"]
    assert {entity["id"] for entity in remote} == {
        seen.split("Parent=")[1].split(";")[0] for seen in result["headers"]
    }


def _entities(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield document
    for child in document.get("subsegments", []):
        yield from _entities(child)


class _Document:
    """What the emitter asks of an entity: to_dict()."""

    def __init__(self, name: str) -> None:
        self.name = name

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": os.urandom(8).hex(),
            "start_time": 1.0,
            "end_time": 2.0,
            "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
        }


def test_emitter_never_writes_to_a_descriptor_it_no_longer_owns() -> None:
    """Issue 17: a handler that closed the emitter's socket and opened a TCP connection on the
    same descriptor number got the trace document written into its connection."""
    with udp_listener() as daemon, socket.create_server(("127.0.0.1", 0)) as server:
        emitter = UDPEmitter(daemon.address)
        emitter.send_entity(_Document("first"))
        number = emitter._socket.fileno()  # type: ignore[union-attr]
        os.close(number)  # as the handler's closerange would
        connection = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        try:
            assert connection.fileno() == number  # the lowest free number: the same one
            emitter.send_entity(_Document("second"))
            accepted.settimeout(0.3)
            with pytest.raises(TimeoutError):
                accepted.recv(1024)  # nothing of ours in the user's connection
            assert [document["name"] for document in daemon.receive()] == ["first", "second"]
            connection.sendall(b"still mine")  # and the connection is the user's, open
            assert accepted.recv(1024) == b"still mine"
        finally:
            connection.close()
            accepted.close()


def test_emitter_in_a_forked_child_sends_nothing() -> None:
    with udp_listener() as daemon:
        emitter = UDPEmitter(daemon.address)
        pid = os.fork()
        if pid == 0:  # the child: what it holds is its parent's invocation
            emitter.send_entity(_Document("child"))
            os._exit(0)
        os.waitpid(pid, 0)
        emitter.send_entity(_Document("parent"))
        assert [document["name"] for document in daemon.receive()] == ["parent"]


def test_daemon_host_name_is_resolved_in_the_background(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 17: a daemon host name that never resolved cost +10 s in the first invocation.
    The lookup runs beside the function; documents sent meanwhile go out once it answers."""
    with udp_listener() as daemon:
        port = int(daemon.address.rsplit(":", 1)[1])
        answered = threading.Event()
        real = socket.getaddrinfo

        def slow(host: Any, *args: Any, **kwargs: Any) -> Any:
            if host == "xray.slow.invalid":
                answered.wait(5)
                return real("127.0.0.1", port, *args[1:], **kwargs)
            return real(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", slow)
        started = time.monotonic()
        emitter = UDPEmitter(f"xray.slow.invalid:{port}")
        emitter.send_entity(_Document("early"))
        assert time.monotonic() - started < 0.5
        answered.set()
        assert [document["name"] for document in daemon.receive()] == ["early"]
        emitter.send_entity(_Document("later"))
        assert [document["name"] for document in daemon.receive()] == ["later"]


class _CyclicDocument(_Document):
    def to_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"step": 1}
        state["again"] = state  # the user's own object graph, put as metadata
        return {**super().to_dict(), "metadata": {"app": {"state": state}}}


def test_a_reference_cycle_in_metadata_loses_the_metadata_not_the_segment() -> None:
    with udp_listener() as daemon:
        emitter = UDPEmitter(daemon.address)
        emitter.send_entity(_CyclicDocument("cyclic"))
        (sent,) = daemon.receive()
    assert sent["name"] == "cyclic"
    assert sent["metadata"]["lambda_tracing"]["truncated"] is True
    assert "RecursionError" in sent["metadata"]["lambda_tracing"]["reason"]
