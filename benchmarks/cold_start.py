"""Cold start: fresh processes, from spawn to the end of the first invocation.

The clock starts in the driver just before the process is spawned (through the layer's exec
wrapper for our variant) and stops where the mini runtime returns from the first invocation;
both read CLOCK_MONOTONIC, which Linux shares between processes. One unmeasured round first
warms the page cache (and, on this machine's Python, the bytecode caches), as a deployed
function's files are warm on disk (quick mode skips it: the warm phase has just imported the
same files). The rows that count run as Lambda does (lambda_python.py): nothing is compiled
and written, so only the bytecode each package ships is used.
"""

from __future__ import annotations

import subprocess
import time

from results import Section, Series
from udp_listener import DaemonListener
from variants import Variant

# (BENCH_DOWNSTREAM, the first invocation's workload, title)
KINDS = (
    ("1", "plain", "function imports boto3 + requests, builds a client (ms)"),
    ("0", "plain", "function imports neither (ms)"),
)
# As Lambda runs it, also a first invocation that calls AWS, as most functions' do: what a
# tracer puts off until the first call (loading its patchers) is counted there.
FIRST_CALL = (
    "1",
    "botocore_stub",
    "function imports boto3 + requests, first invocation makes a DynamoDB call (Stubber) (ms)",
)
LAMBDA_KINDS = (*KINDS, FIRST_CALL)
# What each set of rows runs on: Lambda's conditions (lambda_python.py), or this machine's
# Python with its bytecode caches written and warm (kept for comparison with earlier runs).
AS_LAMBDA = "cold start as Lambda runs it (python3.13, read-only, shipped bytecode)"
ON_HOST = "cold start on this machine's Python 3.11, bytecode cached (not as Lambda)"


def one_cold_start(
    variant: Variant, daemon_address: str, extra_env: dict[str, str], workload: str = "plain"
) -> tuple[float, float]:
    """Milliseconds from spawn to the end of the first invocation (running `workload`): wall
    clock, process CPU."""
    command = variant.command("cold", workload)
    env = variant.environment(daemon_address, extra_env)
    started = time.perf_counter_ns()
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    lines = finished.stdout.strip().splitlines()
    fields = lines[-1].split() if lines else []
    if finished.returncode != 0 or len(fields) != 2 or not all(f.isdigit() for f in fields):
        tail = (finished.stderr.strip().splitlines() or [f"exit status {finished.returncode}"])[-1]
        raise RuntimeError(f"first invocation failed: {tail[:160]}")
    return (int(fields[0]) - started) / 1e6, int(fields[1]) / 1e6


def measure_cold_starts(
    variants: tuple[Variant, ...],
    listener: DaemonListener,
    extra_env: dict[str, str],
    repetitions: int,
    warm_up_round: bool = True,
    conditions: str = ON_HOST,
    kinds: tuple[tuple[str, str, str], ...] = KINDS,
) -> list[Section]:
    sections = []
    for downstream, workload, title in kinds:
        section = Section(f"{conditions}: {title}", "ms")
        env = {**extra_env, "BENCH_DOWNSTREAM": downstream}
        for variant in variants:
            reason = variant.unavailable_reason()
            if reason:
                section.mark_unavailable(variant.key, reason)
            else:
                section.series[variant.key] = Series()
        first_measured = 1 if warm_up_round else 0
        for round_number in range(repetitions + first_measured):
            for variant in variants:
                series = section.series[variant.key]
                if series.unavailable:
                    continue
                try:
                    elapsed_ms, cpu_ms = one_cold_start(variant, listener.address, env, workload)
                except (RuntimeError, subprocess.TimeoutExpired) as error:
                    section.mark_unavailable(variant.key, str(error))
                    continue
                if round_number >= first_measured:
                    series.values.append(elapsed_ms)
                    series.cpu_values.append(cpu_ms)
        sections.append(section)
    return sections
