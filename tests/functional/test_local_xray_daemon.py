"""The daemon over real UDP: bad datagrams, in-progress segments, a burst, and the CLI."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lambda_tracing_local.xray import LocalXRay
from test_local_xray_support import call

CLI = [  # lambda-tracing local xray, without needing the console script on PATH
    sys.executable,
    "-c",
    "import sys; from lambda_tracing_local.xray import main; sys.exit(main(sys.argv[1:]))",
]

HEADER = b'{"format": "json", "version": 1}\n'
TRACE_ID = "1-5f000000-0123456789abcdef01234567"


def segment(number: int, **fields: object) -> dict:
    document = {
        "name": "burst",
        "id": f"{number:016x}",
        "trace_id": TRACE_ID[:-8] + f"{number:08x}",
        "start_time": 1_600_000_000.0 + number / 1000,
        "end_time": 1_600_000_000.5,
    }
    document.update(fields)
    return document


def datagram(document: dict) -> bytes:
    return HEADER + json.dumps(document).encode()


def the_one_segment(xray: LocalXRay, trace_id: str) -> dict:
    """The trace's only segment as BatchGetTraces returns it."""
    traces, _ = call(xray.api_url, "BatchGetTraces", TraceIds=[trace_id])
    [stored] = traces["Traces"][0]["Segments"]
    return json.loads(stored["Document"])


@pytest.fixture
def xray() -> Iterator[LocalXRay]:
    with LocalXRay() as xr:
        yield xr


def sender(xr: LocalXRay) -> socket.socket:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    host, port = xr.udp_address.rsplit(":", 1)
    udp.connect((host, int(port)))
    return udp


@contextlib.contextmanager
def workers_started(
    monkeypatch: pytest.MonkeyPatch, **options: Any
) -> Iterator[tuple[LocalXRay, socket.socket, Any]]:
    """A local X-Ray whose ingest workers one first datagram has started (every drain starts
    them), a sender to it, and its worker pool."""
    monkeypatch.setattr("lambda_tracing_local.xray.daemon.POOL_START_BATCH", 1)
    with LocalXRay(ingest_processes=2, **options) as xray:
        udp = sender(xray)
        udp.send(datagram(segment(0)))
        assert xray.wait_for(1)
        daemon = xray.daemon
        assert daemon is not None and daemon._pool is not None and daemon.workers_started
        yield xray, udp, daemon._pool


def test_bad_datagrams_are_rejected_with_reasons_and_the_daemon_keeps_going(
    xray: LocalXRay, caplog: pytest.LogCaptureFixture
) -> None:
    udp = sender(xray)
    bad = {
        "garbage": os.urandom(300),
        "no header": json.dumps(segment(1)).encode(),
        "wrong header": b'{"format": "xml", "version": 1}\n' + json.dumps(segment(2)).encode(),
        "bad json": HEADER + b'{"name": "half", "id": ',
        "schema: no trace_id": datagram({k: v for k, v in segment(3).items() if k != "trace_id"}),
        "schema: short id": datagram(segment(4, id="abc")),
        "not finished nor in progress": datagram(
            {k: v for k, v in segment(5).items() if k != "end_time"}
        ),
    }
    for payload in bad.values():
        udp.send(payload)
    udp.send(datagram(segment(6)))
    # as large as a datagram can be: within the daemon's 64 KiB, so kept
    large = datagram(segment(8, metadata={"default": {"pad": ""}}))
    udp.send(datagram(segment(8, metadata={"default": {"pad": "x" * (65_507 - len(large))}})))
    udp.close()
    assert xray.wait_for(2, timeout=10)
    stats = xray.wait_until_idle()
    assert stats["received"] == len(bad) + 2
    assert stats["rejected"] == len(bad) and stats["stored"] == 2
    assert stats["rejected_by_reason"] == {
        "InvalidHeader": 3,
        "InvalidJson": 1,
        "MissingTraceId trace_id": 1,
        "InvalidId id": 1,
        "MissingEndTime end_time": 1,
    }
    assert "local X-Ray daemon rejected a datagram" in caplog.text
    assert xray.store is not None and xray.store.count() == 2


def test_in_progress_segment_is_replaced_by_its_completed_version(xray: LocalXRay) -> None:
    udp = sender(xray)
    started = {k: v for k, v in segment(7, in_progress=True).items() if k != "end_time"}
    udp.send(datagram(started))
    assert xray.wait_for(1)
    assert the_one_segment(xray, started["trace_id"])["in_progress"] is True
    udp.send(datagram(segment(7)))
    # A late in-progress copy must not undo the completed one.
    udp.send(datagram(started))
    assert xray.wait_for(3)
    document = the_one_segment(xray, started["trace_id"])
    assert document["end_time"] == 1_600_000_000.5 and "in_progress" not in document
    udp.close()


def test_a_streamed_subsegment_waits_for_its_segment(xray: LocalXRay) -> None:
    udp = sender(xray)
    early = {
        "name": "dynamodb",
        "id": "c000000000000001",
        "type": "subsegment",
        "trace_id": TRACE_ID,
        "parent_id": "a000000000000000",
        "start_time": 1_600_000_000.1,
        "end_time": 1_600_000_000.2,
        "namespace": "aws",
        "aws": {"table_name": "orders"},
    }
    udp.send(datagram(early))
    assert xray.wait_for(1)
    traces, _ = call(xray.api_url, "BatchGetTraces", TraceIds=[TRACE_ID])
    assert traces["Traces"] == [] and traces["UnprocessedTraceIds"] == [TRACE_ID]
    udp.send(datagram(segment(0, id="a000000000000000", trace_id=TRACE_ID)))
    assert xray.wait_for(2)
    assert [s["id"] for s in the_one_segment(xray, TRACE_ID)["subsegments"]] == [early["id"]]
    graph, raw = call(
        xray.api_url, "GetServiceGraph", StartTime=1_599_999_999, EndTime=1_600_000_001
    )
    assert {s["Name"] for s in raw["Services"]} == {"burst", "orders"}
    udp.close()


def test_a_subsegment_sent_inside_its_segment_and_streamed_counts_once(xray: LocalXRay) -> None:
    """A subsegment streamed, then sent again inside its segment (flagged error + fault +
    throttle): one call on the graph, one subsegment in BatchGetTraces, and its trace found
    by each flag's filter. (Both orders, and in-progress copies: test_local_xray_graph.)"""
    udp = sender(xray)
    call_ = {
        "name": "dynamodb",
        "id": "c000000000000001",
        "start_time": 1_600_000_000.1,
        "end_time": 1_600_000_000.2,
        "namespace": "aws",
        "aws": {"table_name": "orders"},
        "error": True,
        "fault": True,
        "throttle": True,
    }
    streamed = dict(call_, type="subsegment", trace_id=TRACE_ID, parent_id="a000000000000000")
    udp.send(datagram(streamed))
    udp.send(datagram(segment(0, id="a000000000000000", trace_id=TRACE_ID, subsegments=[call_])))
    assert xray.wait_for(2)
    assert [s["id"] for s in the_one_segment(xray, TRACE_ID)["subsegments"]] == [call_["id"]]
    graph, _ = call(xray.api_url, "GetServiceGraph", StartTime=1_599_999_999, EndTime=1_600_000_001)
    (table,) = [s for s in graph["Services"] if s["Name"] == "orders"]
    assert table["SummaryStatistics"]["TotalCount"] == 1
    assert table["SummaryStatistics"]["ErrorStatistics"]["ThrottleCount"] == 1
    assert table["SummaryStatistics"]["FaultStatistics"]["TotalCount"] == 1
    for flag in ("error", "fault", "throttle"):
        found, _ = call(
            xray.api_url,
            "GetTraceSummaries",
            StartTime=1_599_999_999,
            EndTime=1_600_000_001,
            FilterExpression=flag,
        )
        assert [s["Id"] for s in found["TraceSummaries"]] == [TRACE_ID]
    udp.close()


@pytest.mark.parametrize("receive_buffer", [None, 64 * 1024], ids=["big-buffer", "tiny-buffer"])
def test_burst_stored_equals_sent_minus_kernel_drops_and_none_half(
    receive_buffer: int | None,
) -> None:
    # The tiny buffer makes the kernel drop part of the burst, so the accounting is exercised.
    with LocalXRay(udp_receive_buffer=receive_buffer) if receive_buffer else LocalXRay() as xray:
        burst(xray, 3000, expect_drops=receive_buffer is not None)


def burst(xray: LocalXRay, count: int, expect_drops: bool) -> None:
    documents = [
        segment(
            n,
            subsegments=[
                {
                    "name": "dynamodb",
                    "id": f"{n:015x}f",
                    "namespace": "aws",
                    "start_time": 1_600_000_000.0,
                    "end_time": 1_600_000_000.1,
                    "aws": {"table_name": "burst-table"},
                    "metadata": {"default": {"pad": "x" * 200}},
                },
            ],
        )
        for n in range(count)
    ]
    payloads = [datagram(d) for d in documents]
    udp = sender(xray)
    sent = 0
    for payload in payloads:
        try:
            udp.send(payload)
            sent += 1
        except OSError:
            pass
    udp.close()
    drops_before_settling = xray.kernel_drops()
    assert drops_before_settling is not None, "/proc/net/udp must show the daemon's socket"
    stats = xray.wait_until_idle()
    drops = xray.kernel_drops()
    assert stats["rejected"] == 0
    assert stats["stored"] == sent - (drops or 0)
    assert (drops or 0) > 0 if expect_drops else True
    assert xray.store is not None
    stored = xray.store.documents_between(0, 2e9)
    assert sum(len(docs) for docs in stored.values()) == stats["stored"]
    originals = {d["id"]: d for d in documents}
    for docs in stored.values():
        for document in docs:  # every stored document is whole: equal to what was sent
            assert document == originals[document["id"]]


def test_cli_main_prints_where_it_listens_and_stops_on_sigterm(tmp_path) -> None:
    database = tmp_path / "cli.sqlite3"
    process = subprocess.Popen(
        [
            *CLI,
            "--udp",
            "127.0.0.1:0",
            "--api",
            "127.0.0.1:0",
            "--db",
            str(database),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "udp://127.0.0.1:" in line and "http://127.0.0.1:" in line, line
        assert "and tcp (sampling rules)" in line, line
        api_url = line.split("AWS_ENDPOINT_URL_XRAY=")[1].split(")")[0]
        groups, _ = call(api_url, "GetGroups")
        assert groups["Groups"][0]["GroupName"] == "Default"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert "stopped" in process.stdout.read()
        assert database.exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_cli_rejects_a_bad_address() -> None:
    done = subprocess.run(
        [
            *CLI,
            "--udp",
            "nowhere",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and "HOST:PORT" in done.stderr


def test_cli_with_a_taken_api_port_says_so_and_exits(tmp_path: Path) -> None:
    """Start fails after the daemon and its sampling server are up: both are released, and
    the CLI answers at once (stopping a server that never started must not wait)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                *CLI,
                "--udp",
                "127.0.0.1:0",
                "--api",
                f"127.0.0.1:{port}",
                "--db",
                str(tmp_path / "xray.sqlite3"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 2 and "Address already in use" in done.stderr, done.stderr


def test_wait_for_times_out_honestly(xray: LocalXRay) -> None:
    started = time.monotonic()
    assert xray.wait_for(1, timeout=0.2) is False
    assert time.monotonic() - started >= 0.2


def test_a_burst_through_the_ingest_workers_is_counted_and_logged_as_inline(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Every drained burst goes to the worker processes, however small.
    monkeypatch.setattr("lambda_tracing_local.xray.daemon.POOL_START_BATCH", 1)
    with LocalXRay(ingest_processes=2) as xray:
        udp = sender(xray)
        documents = [segment(n) for n in range(1500)]
        for number, document in enumerate(documents):
            udp.send(datagram(document))
            if number % 100 == 0:
                udp.send(b"not a daemon datagram")
        udp.close()
        stats = xray.wait_until_idle(timeout=60)
        drops = xray.kernel_drops() or 0
        assert xray.daemon is not None and xray.daemon.workers_started
        assert stats["received"] == 1500 + 15 - drops
        assert stats["stored"] + stats["rejected"] == stats["received"]
        assert stats["rejected_by_reason"] == {"InvalidHeader": stats["rejected"]}
        assert "local X-Ray daemon rejected a datagram" in caplog.text  # logged here
        assert xray.store is not None
        stored = xray.store.documents_between(0, 2e9)
        originals = {d["id"]: d for d in documents}
        assert sum(len(docs) for docs in stored.values()) == stats["stored"]
        for docs in stored.values():
            for document in docs:
                assert document == originals[document["id"]]


def test_a_bug_in_a_batch_costs_that_batch_and_the_daemon_keeps_receiving(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from lambda_tracing_local.xray import daemon

    real, calls = daemon.ingest_batch, []

    def first_one_fails(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("ingest bug")
        return real(*args, **kwargs)

    monkeypatch.setattr(daemon, "ingest_batch", first_one_fails)
    with LocalXRay(ingest_processes=0) as xr:
        udp = sender(xr)
        udp.send(datagram(segment(21)))
        deadline = time.monotonic() + 10
        while not calls and time.monotonic() < deadline:
            time.sleep(0.01)
        udp.send(datagram(segment(22)))
        udp.close()
        assert xr.wait_for(1, timeout=10), xr.stats
        stats = xr.wait_until_idle()
        assert (stats["received"], stats["stored"], stats["rejected_by_reason"]) == (
            2,
            1,
            {"internal": 1},
        )
        assert "ingest bug" in caplog.text


def test_after_a_burst_the_daemon_copies_the_wal_back_once_idle(xray: LocalXRay) -> None:
    """So that queries read the database file alone (daemon.CHECKPOINT_AFTER_ROWS)."""
    assert xray.daemon is not None
    burst(xray, 1500, expect_drops=False)
    with xray.daemon.changed:
        assert xray.daemon.changed.wait_for(lambda: xray.daemon.checkpoints == 1, 10)


def test_a_trickle_is_left_to_sqlites_own_checkpoints(xray: LocalXRay) -> None:
    assert xray.daemon is not None
    udp = sender(xray)
    for number in range(10):
        udp.send(datagram(segment(number)))
    udp.close()
    assert xray.wait_for(10)
    time.sleep(0.3)  # idle three times as long as the daemon waits before checkpointing
    assert xray.daemon.checkpoints == 0


def test_what_arrived_before_stop_is_stored_by_the_workers_reading_the_socket(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The workers read the daemon's socket themselves: stop() lets them drain it first."""
    database = tmp_path / "xray.sqlite3"
    with workers_started(monkeypatch, db=database) as (xray, udp, _):
        payloads = [datagram(segment(n)) for n in range(1, 2001)]
        for payload in payloads:
            udp.send(payload)
        udp.close()
        drops = xray.kernel_drops() or 0
        daemon = xray.daemon
    # stop() has returned: everything the kernel kept is stored and counted, nothing in hand
    assert daemon.stats.stored == 2001 - drops
    assert not daemon.workers_started
    from lambda_tracing_local.xray.store import TraceStore

    store = TraceStore(database)
    try:
        assert store.count() == 2001 - drops
    finally:
        store.close()


def test_a_worker_that_dies_costs_what_it_held_and_the_daemon_goes_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with workers_started(monkeypatch) as (xray, udp, pool):
        worker = pool._workers[0]
        worker.kill()
        worker.join(10)
        deadline = time.monotonic() + 10
        while "an ingest worker ended" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "an ingest worker ended" in caplog.text
        udp.send(datagram(segment(1)))  # received here, or by workers started again
        assert xray.wait_for(2), xray.stats
        stats = xray.wait_until_idle()
        assert (stats["stored"], stats["rejected"]) == (2, 0)
        udp.close()


def test_a_batch_lost_with_its_worker_is_counted_as_rejected(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker killed with a batch in hand: its datagrams are rejected ("internal"), so
    received = stored + rejected still holds and nothing goes missing from the counts."""
    with workers_started(monkeypatch) as (xray, udp, pool):
        pool._write_lock.acquire()  # the workers' batches wait for their turn, in hand
        try:
            for n in range(1, 301):
                udp.send(datagram(segment(n)))
            number, held = settled_batch_in_hand(pool)
            pool._workers[number].kill()
            pool._workers[number].join(10)
        finally:
            pool._write_lock.release()
        udp.close()
        drops = xray.kernel_drops() or 0
        deadline = time.monotonic() + 20
        while (stats := xray.stats)["received"] < 301 - drops and time.monotonic() < deadline:
            time.sleep(0.05)
        stats = xray.wait_until_idle()
    assert stats["received"] == 301 - drops
    assert stats["rejected_by_reason"] == {"internal": held}
    assert stats["stored"] + stats["rejected"] == stats["received"]
    assert f"ended holding {held} datagrams" in caplog.text


def settled_batch_in_hand(pool: Any) -> tuple[int, int]:
    """(worker, datagrams) of a worker whose batch is in hand and no longer growing (it waits
    for its write turn): the count is read while the worker still drains otherwise."""
    deadline = time.monotonic() + 4
    last: list[int] = []
    while time.monotonic() < deadline:
        in_hand = [
            pool._holding[i] if pool._taken[i] != pool._recorded[i] else 0
            for i in range(pool.processes)
        ]
        if any(in_hand) and in_hand == last:
            number = max(range(pool.processes), key=in_hand.__getitem__)
            return number, in_hand[number]
        last = in_hand
        time.sleep(0.1)
    raise AssertionError(f"no worker settled with a batch in hand: {last}")


def test_ctrl_c_in_a_terminal_does_not_stop_the_ingest_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGINT reaches the whole process group: the workers leave stopping to the daemon."""
    with workers_started(monkeypatch) as (xray, udp, pool):
        workers = list(pool._workers)
        for worker in workers:  # once started, it ignores SIGINT (as /proc shows)
            deadline = time.monotonic() + 10
            while not ignores_sigint(worker.pid) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert ignores_sigint(worker.pid)
            os.kill(worker.pid, signal.SIGINT)
        for n in range(1, 501):
            udp.send(datagram(segment(n)))
        udp.close()
        drops = xray.kernel_drops() or 0
        assert xray.wait_for(501 - drops), xray.stats
        assert all(worker.is_alive() for worker in workers)
        assert xray.wait_until_idle()["rejected"] == 0


def ignores_sigint(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    ignored = next(line for line in status.splitlines() if line.startswith("SigIgn:"))
    return bool(int(ignored.split()[1], 16) & (1 << (signal.SIGINT - 1)))


def test_a_write_lock_left_held_stalls_each_worker_once_not_every_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The write turns only save time: a worker that waits TURN_TIMEOUT_SECONDS (5 s) for a
    lock whose holder died writes without turns from then on. Waves of datagrams while the
    lock stays held: stored in about one timeout (waiting at every batch took two or more)."""
    from lambda_tracing_local.xray.workers import TURN_TIMEOUT_SECONDS

    with workers_started(monkeypatch) as (xray, udp, pool):
        lock = pool._write_lock
        lock.acquire()  # as a worker killed inside its turn leaves it
        try:
            started = time.monotonic()
            sent = 1
            for wave in range(6):
                for _ in range(300):
                    udp.send(datagram(segment(sent)))
                    sent += 1
                time.sleep(0.1 if wave < 5 else 0)
            drops = xray.kernel_drops() or 0
            assert xray.wait_for(sent - drops, timeout=4 * TURN_TIMEOUT_SECONDS), xray.stats
            elapsed = time.monotonic() - started
        finally:
            lock.release()
        udp.close()
    assert elapsed < 1.7 * TURN_TIMEOUT_SECONDS, elapsed
