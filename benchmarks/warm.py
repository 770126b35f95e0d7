"""Warm invocations: every variant's execution environment, interleaved run by run.

Each run asks each variant's environment for n invocations of one workload and records the
mean handler time per invocation and what reached the daemon listener meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass

from results import Section, Series, difference
from udp_listener import DaemonListener
from variants import Variant
from workers import Worker, WorkerError


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    sampled: bool
    invocations: int  # per run, full mode
    gap_us: int = 0  # asleep after each invocation (mini_runtime.measure)


WORKLOADS = (
    Workload("plain", "warm: no-op handler", True, 1000),
    Workload("subsegment", "warm: + 1 custom subsegment", True, 1000),
    Workload("botocore", "warm: + 1 botocore call (DynamoDB GetItem, moto in-process)", True, 400),
    Workload("http", "warm: + 1 HTTP call (requests, local server)", True, 300),
    Workload(
        "botocore_stub", "warm: + 1 botocore call (DynamoDB GetItem, botocore Stubber)", True, 1000
    ),
    Workload("plain", "unsampled (Sampled=0): no-op handler", False, 2000),
    Workload("subsegment", "unsampled (Sampled=0): + 1 custom subsegment", False, 2000),
)
# 0.1 ms asleep after each invocation, as Lambda's runtime waits for the next event (at least
# its two calls to the runtime API): the daemon is asleep at every send, as on Lambda.
ASLEEP = 100
ASLEEP_TITLE = "0.1 ms asleep between invocations"
# As Lambda runs it (lambda_python.py): the runtime's Python with only what ships, so no moto
# (the Stubber row measures the botocore call there).
AS_LAMBDA_WORKLOADS = (
    *(workload for workload in WORKLOADS if workload.key != "botocore"),
    Workload("plain", f"warm, {ASLEEP_TITLE}: no-op handler", True, 1000, ASLEEP),
    Workload("subsegment", f"warm, {ASLEEP_TITLE}: + 1 custom subsegment", True, 1000, ASLEEP),
)
AS_LAMBDA_TITLE = "as Lambda, "
WARMUP_INVOCATIONS = 20


def start_workers(
    variants: tuple[Variant, ...], listener: DaemonListener, extra_env: dict[str, str]
) -> tuple[dict[str, Worker], dict[str, str]]:
    """Start every variant's environment at once; return the live ones and why others failed."""
    workers: dict[str, Worker] = {}
    failed: dict[str, str] = {}
    for variant in variants:
        reason = variant.unavailable_reason()
        if reason:
            failed[variant.key] = reason
            continue
        workers[variant.key] = Worker(variant, listener.address, extra_env)
    for key, worker in list(workers.items()):
        try:
            worker.wait_ready()
        except WorkerError as error:
            failed[key] = str(error)
            worker.stop()
            del workers[key]
    return workers, failed


def warm_up(workers: dict[str, Worker], section: Section, workload: Workload, n: int) -> None:
    """The first invocations of each workload, unmeasured; a failing one marks its row n/a."""
    for key, worker in workers.items():
        try:
            reply = worker.measure(workload.key, workload.sampled, n, workload.gap_us)
        except WorkerError as error:
            section.mark_unavailable(key, str(error))
            continue
        if reply["errors"]:
            section.mark_unavailable(key, f"handler raised: {reply['first_error']}")


def measure_warm(
    variants: tuple[Variant, ...],
    listener: DaemonListener,
    extra_env: dict[str, str],
    runs: int,
    scale: float,
    workloads: tuple[Workload, ...] = WORKLOADS,
    title_prefix: str = "",
) -> list[Section]:
    sections = [Section(title_prefix + workload.title, "us") for workload in workloads]
    for section in sections:
        for variant in variants:
            section.series[variant.key] = Series()
    for run in range(runs):
        # Fresh execution environments every run: one process can be a few percent faster or
        # slower than another for its whole life (hash seeds, memory layout, moto's state), more
        # than a tracer's per-call cost on a 2-3 ms call; across runs that averages out.
        workers, failed = start_workers(variants, listener, extra_env)
        try:
            for section in sections:
                for key, reason in failed.items():
                    section.mark_unavailable(key, reason)
            for workload, section in zip(workloads, sections, strict=True):
                warm_up(workers, section, workload, max(5, int(WARMUP_INVOCATIONS * scale)))
            _one_run(workers, listener, sections, workloads, run, scale)
        finally:
            for worker in workers.values():
                worker.stop()
    sampled = {
        workload.key: section
        for workload, section in zip(workloads, sections, strict=True)
        if workload.sampled and not workload.gap_us
    }
    per_call = (
        ("botocore", "per botocore call (botocore row minus no-op row)"),
        ("http", "per HTTP call (HTTP row minus no-op row)"),
        ("botocore_stub", "per botocore call, Stubber (Stubber row minus no-op row)"),
    )
    for key, title in per_call:
        if key in sampled:
            sections.append(difference(title_prefix + title, sampled[key], sampled["plain"]))
    return sections


def _one_run(
    workers: dict[str, Worker],
    listener: DaemonListener,
    sections: list[Section],
    workloads: tuple[Workload, ...],
    run: int,
    scale: float,
) -> None:
    """Every workload once in every environment, the variants' order rotated run by run."""
    counts = listener.settled_counts()
    for workload, section in zip(workloads, sections, strict=True):
        order = list(workers)
        shift = run % len(order) if order else 0
        for key in order[shift:] + order[:shift]:
            series = section.series[key]
            if series.unavailable:
                continue
            n = max(5, int(workload.invocations * scale))
            try:
                reply = workers[key].measure(workload.key, workload.sampled, n, workload.gap_us)
            except WorkerError as error:
                section.mark_unavailable(key, str(error))
                continue
            after = listener.settled_counts()
            if reply["errors"]:
                section.mark_unavailable(key, f"handler raised: {reply['first_error']}")
                counts = after
                continue
            series.values.append(reply["mean_ns"] / 1000)
            series.cpu_values.append(reply["cpu_mean_ns"] / 1000)
            series.datagrams_per_invocation.append((after[0] - counts[0]) / n)
            series.bytes_per_invocation.append((after[1] - counts[1]) / n)
            counts = after
