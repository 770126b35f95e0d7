"""Local X-Ray benchmark: UDP ingest rate and GetServiceGraph time over a burst of segments.

One process sends the burst as fast as it can, once the daemon has finished starting (its
fork server loaded: a daemon starts long before a burst); the daemon runs in this process,
with its ingest worker processes. Prints sent, stored, rejected and kernel drops (stored
must equal sent - drops), the ingest rate (segments stored over the time from the burst's
first datagram sent to its last one stored) and the daemon's CPU time meanwhile (this
process and its workers), and the GetServiceGraph time through boto3, asked once the daemon
has checkpointed the burst's WAL (which it does 0.1 s after a burst: a query then reads the
database file alone). Goals: >= 40,000 segments/s, GetServiceGraph < 1 s.

    python benchmarks/bench_local_xray.py [--quick] [--count N]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import time
from collections.abc import Collection
from typing import Any

SERVICES = ["orders", "payments", "shipping", "catalog", "search"]
HEADER = b'{"format": "json", "version": 1}\n'
FULL_COUNT = 100_000
QUICK_COUNT = 10_000


def segment_datagram(number: int, now: float) -> bytes:
    """A realistic segment: HTTP request, one DynamoDB and one HTTP subsegment."""
    service = SERVICES[number % len(SERVICES)]
    start = now - 60 + (number % 50_000) / 1000
    status = 500 if number % 97 == 0 else 429 if number % 89 == 0 else 200
    document = {
        "name": service,
        "id": f"{number:016x}",
        "trace_id": f"1-{int(now):08x}-{number:024x}",
        "start_time": start,
        "end_time": start + 0.05 + (number % 7) / 100,
        "origin": "AWS::Lambda::Function",
        "http": {
            "request": {"method": "GET", "url": f"https://example.test/{service}"},
            "response": {"status": status},
        },
        "annotations": {"customer": f"c-{number % 100}"},
        "subsegments": [
            {
                "name": "dynamodb",
                "id": f"{number:015x}a",
                "namespace": "aws",
                "start_time": start + 0.001,
                "end_time": start + 0.02,
                "http": {"response": {"status": 200}},
                "aws": {"operation": "GetItem", "table_name": f"{service}-table"},
            },
            {
                "name": "inventory.internal",
                "id": f"{number:015x}b",
                "namespace": "remote",
                "start_time": start + 0.021,
                "end_time": start + 0.04,
                "http": {
                    "request": {"url": "http://inventory.internal/stock", "method": "GET"},
                    "response": {"status": status},
                },
            },
        ],
    }
    return HEADER + json.dumps(document, separators=(",", ":")).encode()


def send_burst(address: tuple[str, int], count: int, now: float, result: Any) -> None:
    """Runs in its own process: build the datagrams first, then send them back to back."""
    datagrams = [segment_datagram(number, now) for number in range(count)]
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.connect(address)
    send, sent, started = sender.send, 0, time.perf_counter()
    for datagram in datagrams:
        try:
            send(datagram)
            sent += 1
        except OSError:  # ENOBUFS: the sender's own queue is full; not a datagram sent
            pass
    result.put((sent, time.perf_counter() - started, started))
    sender.close()


def cpu_seconds_by_process(exclude: Collection[int] = ()) -> dict[int, float]:
    """CPU seconds (user + system) of this process and every live process below it, by process
    id, but `exclude`: the daemon's ingest workers are children of a fork server, not of this
    process, so os.times() would miss them. Linux only; elsewhere this process alone."""
    if not os.path.isdir("/proc/self/task"):
        return {os.getpid(): time.process_time()}
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        parents[int(entry)] = int(fields[1])
        used[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    me, found = os.getpid(), {}
    for pid, seconds in used.items():
        ancestor = pid
        while ancestor not in (me, 0, 1) and ancestor not in exclude:
            ancestor = parents.get(ancestor, 0)
        if ancestor == me and pid not in exclude:
            found[pid] = seconds
    return found


def wait_until_started(timeout: float = 10.0) -> None:
    """Until the daemon's processes stop using CPU: its fork server loads the worker module
    and the daemon's thread compiles its checks when it starts (~0.2 s of CPU), which is no
    part of ingesting a burst (a daemon starts long before one)."""
    deadline, previous = time.monotonic() + timeout, -1.0
    while time.monotonic() < deadline:
        used = sum(cpu_seconds_by_process().values())
        if used == previous:
            return
        previous = used
        time.sleep(0.2)


def context_switches(pids: Collection[int]) -> int:
    """Voluntary context switches (wakeups, mostly) of these processes' threads so far; 0
    where /proc does not count them."""
    total = 0
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue  # gone, or no /proc
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/status", encoding="ascii") as status:
                    for line in status:
                        if line.startswith("voluntary_ctxt_switches:"):
                            total += int(line.split()[1])
            except OSError:
                continue  # a thread gone meanwhile
    return total


def wal_size(database: str) -> int:
    try:
        return os.path.getsize(database + "-wal")
    except OSError:  # no WAL: everything is in the database file
        return 0


def run(quick: bool = False, count: int | None = None) -> list[dict]:
    """Rows for the benchmark runner: one per measurement."""
    import boto3
    from lambda_tracing_local.xray import LocalXRay

    count = count or (QUICK_COUNT if quick else FULL_COUNT)
    now = time.time()
    context = multiprocessing.get_context("spawn")
    with LocalXRay() as xr:
        assert xr.daemon is not None
        host, port = xr.daemon.address
        result = context.Queue()
        wait_until_started()
        sender = context.Process(target=send_burst, args=((host, port), count, now, result))
        # The CPU time of this process and its ingest workers is the daemon's (the main thread
        # only waits): it tells the rate idle cores would give when the machine is shared.
        cpu_before = cpu_seconds_by_process()
        switches_before = context_switches(cpu_before)
        sender.start()
        sent, send_seconds, _ = result.get(timeout=300)
        sender.join()
        send_done = time.perf_counter()
        # The burst is over once every datagram the kernel kept has been dealt with. Waiting
        # on the daemon's counts (woken per batch) rather than polling every 10 ms keeps this
        # thread's CPU, which counts as the daemon's, out of the measurement.
        deadline, daemon = time.monotonic() + 120, xr.daemon
        while time.monotonic() < deadline:
            drops = xr.kernel_drops() or 0  # rechecked at least every 50 ms
            with daemon.changed:
                if daemon.stats.received + drops >= sent:
                    break
                daemon.changed.wait(0.05)
        ingest_seconds = send_seconds + (time.perf_counter() - send_done)
        cpu_ended = cpu_seconds_by_process({sender.pid or 0})
        # Of every daemon process: workers started during the burst count from 0
        switches = context_switches(cpu_ended) - switches_before
        ingest_cpu_seconds = sum(cpu_ended.values()) - sum(cpu_before.values())
        # The daemon's own process apart from the workers (and the fork server): once a
        # burst has started them, the workers read the socket themselves
        receiver_cpu_seconds = cpu_ended[os.getpid()] - cpu_before[os.getpid()]
        stats, maybe_drops = xr.stats, xr.kernel_drops()
        with daemon.changed:  # the checkpoint after the burst (see daemon.py), at most 10 s
            checkpointed = daemon.changed.wait_for(lambda: daemon.checkpoints > 0, 10)
        xray = boto3.client(
            "xray",
            endpoint_url=xr.api_url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        xray.get_groups()  # warm the client and connection: time the graph, not boto3's setup
        wal_bytes = wal_size(xr.store.path) if xr.store else -1
        started, cpu_started = time.perf_counter(), time.process_time()
        services = xray.get_service_graph(StartTime=now - 3600, EndTime=now + 3600)["Services"]
        graph_seconds = time.perf_counter() - started
        graph_cpu_seconds = time.process_time() - cpu_started  # server and client threads
        stored_rows = xr.store.count() if xr.store else -1
    consistent = maybe_drops is not None and stats["stored"] == sent - maybe_drops
    return [
        {
            "name": "local_xray_ingest",
            "segments_sent": sent,
            "segments_stored": stats["stored"],
            "rows_in_store": stored_rows,
            "rejected": stats["rejected"],
            "kernel_drops": maybe_drops,
            "stored_equals_sent_minus_drops": consistent,
            "seconds": round(ingest_seconds, 3),
            "segments_per_second": round(stats["stored"] / ingest_seconds),
            "daemon_cpu_seconds": round(ingest_cpu_seconds, 3),
            "segments_per_cpu_second": round(stats["stored"] / max(ingest_cpu_seconds, 1e-9)),
            "receiver_cpu_seconds": round(receiver_cpu_seconds, 3),
            # of the daemon's processes' threads (workers and checkpoint threads too)
            "daemon_wakeups_per_1000": round(switches / max(sent, 1) * 1000, 1),
            "cpu_us_per_segment": round(ingest_cpu_seconds / max(stats["stored"], 1) * 1e6, 1),
            "load_average_1m": os.getloadavg()[0],
            "goal_segments_per_second": 40_000,
        },
        {
            "name": "local_xray_get_service_graph",
            "segments": stats["stored"],
            "services": len(services),
            "seconds": round(graph_seconds, 3),
            "cpu_seconds": round(graph_cpu_seconds, 3),  # server and client, one process
            "wal_bytes_at_start": wal_bytes,  # the WAL file, whatever of it is checkpointed
            "wal_checkpointed_at_start": checkpointed,
            "load_average_1m": os.getloadavg()[0],
            "goal_seconds": 1.0,
        },
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_COUNT:,} segments")
    parser.add_argument("--count", type=int, help="segments to send")
    arguments = parser.parse_args()
    print(f"local X-Ray benchmark on {os.cpu_count()} cores")
    for row in run(arguments.quick, arguments.count):
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
