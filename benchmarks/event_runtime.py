"""mini_runtime for one event file: the first invocation with an event, or warm ones.

    event_runtime.py first EVENT_FILE     -> "WALL_NS CPU_NS" of the first invocation only
    event_runtime.py next EVENT_FILE      -> the same for the first invocation with the event
                                             after one (unmeasured) invocation with `{}`
    event_runtime.py warm EVENT_FILE N    -> "WALL_NS CPU_NS": mean of N warm invocations
                                             (after 5 unmeasured ones)

Imports the handler as mini_runtime does (behind the exec wrapper if any); the event is read
before the clock starts, so only the handler call is measured.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time

from lambda_env import new_context, new_trace_header
from mini_runtime import load_handler

WARM_UP = 5


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    with open(path) as source:
        event = json.load(source)
    handler = load_handler()
    if mode == "first":
        wall, cpu = invoke(handler, event, 1)
    elif mode == "next":
        invoke(handler, {}, 1)
        wall, cpu = invoke(handler, event, 1)
    else:
        invoke(handler, event, WARM_UP)
        wall, cpu = invoke(handler, event, int(sys.argv[3]))
    print(wall, cpu, flush=True)


def invoke(handler, event: object, n: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Mean wall and CPU nanoseconds of n handler calls, each with a fresh trace header."""
    headers = [new_trace_header(True) for _ in range(n)]
    contexts = [new_context() for _ in range(n)]
    gc.collect()
    wall = cpu = 0
    for header, context in zip(headers, contexts, strict=True):
        os.environ["_X_AMZN_TRACE_ID"] = header
        wall_started, cpu_started = time.perf_counter_ns(), time.process_time_ns()
        handler(event, context)
        cpu += time.process_time_ns() - cpu_started
        wall += time.perf_counter_ns() - wall_started
    return wall // n, cpu // n


if __name__ == "__main__":
    main()
