"""The lines Lambda itself writes around each invocation (START, END, REPORT)."""

from __future__ import annotations

import math
from pathlib import Path

from lambda_tracing_local.runtime.environment import Outcome
from lambda_tracing_local.runtime.xray_segments import TraceContext


def start_line(request_id: str) -> str:
    return f"START RequestId: {request_id} Version: $LATEST\n"


def end_lines(outcome: Outcome, memory_size: int, trace: TraceContext, pid: int | None) -> str:
    duration_ms = (outcome.finished_at - (outcome.delivered_at or outcome.invoke_started)) * 1000
    report = (
        f"REPORT RequestId: {outcome.request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {math.ceil(duration_ms)} ms\tMemory Size: {memory_size} MB\t"
        f"Max Memory Used: {_peak_memory_mb(pid)} MB"
    )
    if outcome.cold_start and outcome.init_started is not None and outcome.init_ended is not None:
        report += f"\tInit Duration: {(outcome.init_ended - outcome.init_started) * 1000:.2f} ms"
    if trace.sampled:
        report += (
            f"\nXRAY TraceId: {trace.trace_id}\tSegmentId: {trace.service_segment_id}\t"
            "Sampled: true"
        )
    return f"END RequestId: {outcome.request_id}\n{report}\n"


def _peak_memory_mb(pid: int | None) -> int:
    """The runtime process's peak resident memory (VmHWM); 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text() if pid else ""
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return 0
