"""A stand-in for the Lambda Python runtime, started once per execution environment.

Like awslambdaric it puts LAMBDA_TASK_ROOT on sys.path, imports the function named by
`_HANDLER` (module.function, after any AWS_LAMBDA_EXEC_WRAPPER has rewritten it), and for each
invocation sets a fresh `_X_AMZN_TRACE_ID` and builds a LambdaContext before calling the handler.
It skips the Runtime API's HTTP round trips, which cost every variant the same.

Modes:
  cold   - import, invoke once, print perf_counter_ns() and process_time_ns() at the end of that
           invocation, exit. (CLOCK_MONOTONIC is system-wide on Linux, so the parent can subtract
           its spawn time; CPU time accumulates across the exec wrapper's exec.)
  serve  - import, then answer JSON commands on stdin, one per line:
           {"workload": "plain", "sampled": true, "n": 1000} -> {"mean_ns": ..., "errors": 0}
           Serve mode first starts moto's in-process DynamoDB (moto_in_process) for the
           botocore workload (unless BENCH_MOTO=0); cold mode makes no downstream call and so
           does not.
  loop   - WORKLOAD N SAMPLED(1|0): 50 unmeasured invocations, then N, for profilers
           (BENCH_PROFILE=pyinstrument profiles just those N and prints the tree to stderr;
           BENCH_PROFILE=opcodes counts the bytecodes each function runs in them, per invocation).
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import sys
import time


def load_handler():  # type: ignore[no-untyped-def]
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
    module_name, function_name = os.environ["_HANDLER"].rsplit(".", 1)
    module = importlib.import_module(module_name.replace("/", "."))
    return getattr(module, function_name)


def invoke_once(handler, workload: str, sampled: bool) -> None:  # type: ignore[no-untyped-def]
    from lambda_env import new_context, new_trace_header

    os.environ["_X_AMZN_TRACE_ID"] = new_trace_header(sampled)
    handler({"workload": workload}, new_context())


def measure(handler, workload: str, sampled: bool, n: int, gap_us: int = 0) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Mean handler time over n invocations: wall clock around each handler call only, and the
    process's CPU time (all threads, so background exporters count) over the whole loop.

    gap_us: the process sleeps that long after each invocation, untimed, as Lambda's runtime
    waits for the next event: the daemon has gone back to sleep when the next datagram comes,
    and its wake-up is in that send's time, as on Lambda. Back to back (0), a fast tracer's
    datagram can find the daemon still awake from the last one, and cost less.

    The garbage collector is paused during the loop, as timeit does: a collection's cost depends
    on the whole heap (moto's most of all), not on the tracer, and would otherwise dominate the
    spread of the botocore rows. Each variant's garbage is collected before its next batch.
    BENCH_GC=1 (the rows as Lambda runs it, which have no moto) keeps it running, as Lambda
    does: what a tracer leaves to the collector (reference cycles, the collections its
    allocations bring on) is then in its time."""
    from lambda_env import new_context, new_trace_header

    headers = [new_trace_header(sampled) for _ in range(n)]
    contexts = [new_context() for _ in range(n)]
    event = {"workload": workload}
    gc.collect()
    if os.environ.get("BENCH_GC") != "1":
        gc.disable()
    cpu_started = time.process_time_ns()
    try:
        total, errors, first_error = _loop(handler, event, headers, contexts, gap_us / 1e6)
    finally:
        cpu = time.process_time_ns() - cpu_started
        gc.enable()
    return {
        "mean_ns": total / n,
        "cpu_mean_ns": cpu / n,
        "errors": errors,
        "first_error": first_error,
    }


def _loop(handler, event, headers, contexts, gap: float) -> tuple[int, int, str]:  # type: ignore[no-untyped-def]
    environ = os.environ
    clock = time.perf_counter_ns
    sleep = time.sleep
    total = 0
    errors = 0
    first_error = ""
    for header, context in zip(headers, contexts, strict=True):
        environ["_X_AMZN_TRACE_ID"] = header
        started = clock()
        try:
            handler(event, context)
        except Exception as error:
            errors += 1
            first_error = first_error or f"{type(error).__name__}: {error}"[:200]
        total += clock() - started
        if gap:
            sleep(gap)
    return total, errors, first_error


def count_opcodes(handler, workload: str, sampled: bool, n: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Bytecodes run per function over n invocations (sys.settrace's opcode events): where the
    interpreter's work goes, without the timer noise of a sampling profiler."""
    from collections import Counter

    from lambda_env import new_context, new_trace_header

    counts: Counter[str] = Counter()
    here = __file__

    def local(frame, event, arg):  # type: ignore[no-untyped-def]
        if event == "opcode":
            code = frame.f_code
            where = "/".join(code.co_filename.rsplit("/", 2)[-2:])  # directory and file
            counts[f"{code.co_qualname} ({where}:{code.co_firstlineno})"] += 1
        return local

    def calls(frame, event, arg):  # type: ignore[no-untyped-def]
        if frame.f_code.co_filename == here:
            return None
        frame.f_trace_opcodes = True
        return local

    event = {"workload": workload}
    for _ in range(n):
        os.environ["_X_AMZN_TRACE_ID"] = new_trace_header(sampled)
        context = new_context()
        sys.settrace(calls)
        try:
            handler(event, context)
        finally:
            sys.settrace(None)
    return counts


def serve(handler) -> None:  # type: ignore[no-untyped-def]
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command.get("stop"):
            break
        try:
            result = measure(
                handler,
                command["workload"],
                command["sampled"],
                command["n"],
                command.get("gap_us", 0),
            )
        except Exception as error:  # report, keep serving
            result = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(result), flush=True)


def drop_datagrams() -> None:
    """Every datagram socket's send and sendto return at once, as if sent (for
    profile_layer.py's `send`: the cost of everything but the kernel's part). The check is the
    C type slot, not socket.type (a Python property): the same few hundred nanoseconds are
    added to every variant's send."""
    import _socket
    import socket

    raw_type = _socket.socket.__dict__["type"].__get__
    datagram = int(socket.SOCK_DGRAM)
    send, sendto = socket.socket.send, socket.socket.sendto

    def dropping_send(self, data, *args):  # type: ignore[no-untyped-def]
        return len(data) if raw_type(self) == datagram else send(self, data, *args)

    def dropping_sendto(self, data, *args):  # type: ignore[no-untyped-def]
        return len(data) if raw_type(self) == datagram else sendto(self, data, *args)

    socket.socket.send = dropping_send  # type: ignore[method-assign]
    socket.socket.sendto = dropping_sendto  # type: ignore[method-assign]


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "serve"
    if os.environ.get("BENCH_DROP_DATAGRAMS") == "1":
        drop_datagrams()
    # BENCH_MOTO=0: as Lambda runs it (lambda_python.py), where only what ships is importable.
    moto = os.environ.get("BENCH_MOTO", "1") == "1"
    if moto and (mode == "serve" or (mode == "loop" and sys.argv[2] == "botocore")):
        import moto_in_process

        moto_in_process.start()
    handler = load_handler()
    if mode == "cold":
        invoke_once(handler, sys.argv[2] if len(sys.argv) > 2 else "plain", True)
        print(time.perf_counter_ns(), time.process_time_ns(), flush=True)
    elif mode == "loop":  # for profilers: loop WORKLOAD N SAMPLED(1|0)
        workload, n, sampled = sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
        measure(handler, workload, sampled, 50)
        profiler = None
        if os.environ.get("BENCH_PROFILE") == "pyinstrument":
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0001)
            profiler.start()
        if os.environ.get("BENCH_PROFILE") == "opcodes":
            counts = count_opcodes(handler, workload, sampled, n)
            for where, count in sorted(counts.items(), key=lambda item: -item[1])[
                : int(os.environ.get("BENCH_OPCODE_ROWS", "40"))
            ]:
                print(f"{count / n:9.1f}  {where}", file=sys.stderr)
            print(f"{sum(counts.values()) / n:9.1f}  in all", file=sys.stderr)
        result = measure(handler, workload, sampled, n)
        if profiler is not None:
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False), file=sys.stderr)
        print(json.dumps(result), flush=True)
    else:
        serve(handler)


if __name__ == "__main__":
    main()
