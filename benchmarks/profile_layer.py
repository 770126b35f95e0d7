"""Where a variant's time goes, for the engineers cutting it (not part of `make bench`).

    python benchmarks/profile_layer.py imports [--variant ours] [--no-boto3]
        Cold start by module: runs the variant and the bare handler with `-X importtime` (three
        times each, the minimum kept per module) and lists the modules only the variant
        imports, biggest first, with their total.
    python benchmarks/profile_layer.py warm [--variant ours] [--workload plain] [-n 20000]
                                            [--unsampled]
        Warm invocations under pyinstrument (statistical; the call tree printed as text).
    python benchmarks/profile_layer.py opcodes [--variant ours] [--workload plain] [-n 200]
                                               [--unsampled] [--as-lambda] [--rows 40]
        Bytecodes run per warm invocation, by function (sys.settrace's opcode events; no
        timer, so the same on a busy host): where the interpreter's work goes.
    Every mode takes --env NAME=VALUE (repeatable), set for every variant it runs.
    python benchmarks/profile_layer.py init [--variant ours] [--no-boto3]
        One cold start (imports, init, first invocation) under pyinstrument.
    python benchmarks/profile_layer.py ablate [--no-boto3] [-n 2000] [--repeat 7]
                                              [--workload plain] [--as-lambda] [--drop]
        Our layer with one feature switched off at a time (by its environment variable), beside
        the bare handler and Powertools: cold start (wall and CPU) and warm wall and CPU per
        invocation, medians, interleaved. Shows what each feature costs. With a workload that
        calls a library, "no library patching" is the handler's span alone beside a busy
        handler: compared with the no-op workload's, the same instructions cost more once the
        handler's own work has pushed the layer's code and data out of the CPU's caches.
        --drop: datagram sends return at once (as in `send`), so only the tracers' own work
        is left.
    python benchmarks/profile_layer.py send [--workload plain] [--as-lambda] [-n 2000]
                                            [--repeat 9]
        A warm workload (no-op by default) of Powertools and ours (both modes), as it runs and with
        every datagram socket's send returning at once (mini_runtime.drop_datagrams), medians
        interleaved: how much of each tracer's added time is the kernel delivering its one
        datagram (waking the daemon), a cost the same for every tracer sending one datagram
        per invocation, and how the rest compares.

Each runs the variant as the benchmark does: through the layer's exec wrapper for ours, with
the same simulated Lambda environment; a stand-in daemon counts what is sent.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import defaultdict
from typing import Any

from downstream import Downstream
from udp_listener import DaemonListener
from variants import ALL_VARIANTS, BARE, OURS, POWERTOOLS, Variant

_IMPORT_LINE = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


def _run(
    variant: Variant, command: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if finished.returncode != 0:
        sys.exit(f"{variant.key} failed:\n{finished.stderr[-2000:]}")
    return finished


def import_times(
    variant: Variant, address: str, extra: dict[str, str]
) -> dict[str, tuple[int, int]]:
    """module -> (self us, cumulative us), minimum over three fresh processes."""
    best: dict[str, tuple[int, int]] = {}
    for _ in range(3):
        command = variant.command("cold", "plain", python_options=("-X", "importtime"))
        finished = _run(variant, command, variant.environment(address, extra))
        for match in _IMPORT_LINE.finditer(finished.stderr):
            self_us, cumulative_us, module = int(match[1]), int(match[2]), match[4]
            previous = best.get(module)
            if previous is None or cumulative_us < previous[1]:
                best[module] = (self_us, cumulative_us)
    return best


def report_imports(
    variant: Variant, bare_variant: Variant, address: str, extra: dict[str, str]
) -> None:
    """The modules `variant` imports and `bare_variant` (the bare handler under the same
    conditions: this machine's Python, or as Lambda runs it) does not."""
    ours = import_times(variant, address, extra)
    bare = import_times(bare_variant, address, extra)
    only_ours = {module: times for module, times in ours.items() if module not in bare}
    by_package: dict[str, int] = defaultdict(int)
    for module, (self_us, _) in only_ours.items():
        by_package[module.split(".")[0]] += self_us
    total = sum(by_package.values())
    print(
        f"{variant.label}: {len(only_ours)} modules the bare handler does not import, "
        f"{total / 1000:.1f} ms of import (self time, summed)"
    )
    print("\nby top-level package (ms):")
    for package, self_us in sorted(by_package.items(), key=lambda item: -item[1])[:15]:
        print(f"  {self_us / 1000:8.1f}  {package}")
    print("\nlargest single imports (cumulative ms, includes their children):")
    for module, (_, cumulative_us) in sorted(only_ours.items(), key=lambda item: -item[1][1])[:25]:
        print(f"  {cumulative_us / 1000:8.1f}  {module}")


def report_pyinstrument(
    variant: Variant, address: str, extra: dict[str, str], args: list[str]
) -> None:
    options = ("-m", "pyinstrument", "-r", "text", "-i", "0.0002")
    command = variant.command(*args, python_options=options)
    finished = _run(variant, command, variant.environment(address, extra))
    print(finished.stdout[-30000:])


ABLATIONS: tuple[tuple[str, dict[str, str]], ...] = (
    ("ours, defaults", {}),
    ("ours, no cold-start breakdown", {"LAMBDA_TRACING_COLD_START_BREAKDOWN": "false"}),
    ("ours, no library patching", {"LAMBDA_TRACING_PATCH": "none"}),
    ("ours, no response capture", {"LAMBDA_TRACING_CAPTURE_RESPONSE": "false"}),
    ("ours, no log filter", {"LAMBDA_TRACING_LOG_TRACE_ID": "false"}),
    (
        "ours, all four off",
        {
            "LAMBDA_TRACING_COLD_START_BREAKDOWN": "false",
            "LAMBDA_TRACING_PATCH": "none",
            "LAMBDA_TRACING_CAPTURE_RESPONSE": "false",
            "LAMBDA_TRACING_LOG_TRACE_ID": "false",
        },
    ),
)


def interleaved_warm(
    workers: dict[Any, Any], workload: str, n: int, repeat: int
) -> dict[Any, list[tuple[float, float]]]:
    """Each worker's (wall, CPU) microseconds per invocation of `workload`, `repeat` times:
    every worker warmed up first (50 unmeasured invocations), then measured in turn, so a
    change in the host's speed falls on all of them alike. The workers are stopped after."""
    measured: dict[Any, list[tuple[float, float]]] = {key: [] for key in workers}
    try:
        for worker in workers.values():
            worker.wait_ready()
            worker.measure(workload, True, 50)
        for _ in range(repeat):
            for key, worker in workers.items():
                reply = worker.measure(workload, True, n)
                if reply["errors"]:  # a handler that raised would only look fast
                    sys.exit(f"{key}: the handler raised: {reply['first_error']}")
                measured[key].append((reply["mean_ns"] / 1000, reply["cpu_mean_ns"] / 1000))
    finally:
        for worker in workers.values():
            worker.stop()
    return measured


def report_ablations(
    variants: tuple[Variant, ...],
    address: str,
    extra: dict[str, str],
    workload: str,
    n: int,
    repeat: int,
) -> None:
    import statistics

    from cold_start import one_cold_start
    from workers import Worker

    by_key = {variant.key: variant for variant in variants}
    cases: list[tuple[str, Variant, dict[str, str]]] = [
        (BARE.label, by_key[BARE.key], {}),
        (POWERTOOLS.label, by_key[POWERTOOLS.key], {}),
    ]
    cases += [(label, by_key[OURS.key], env) for label, env in ABLATIONS]
    cold: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in cases}
    for _label, variant, env in cases:  # one unmeasured round
        one_cold_start(variant, address, {**extra, **env})
    for _ in range(repeat):
        for label, variant, env in cases:
            cold[label].append(one_cold_start(variant, address, {**extra, **env}))
    workers = {label: Worker(variant, address, {**extra, **env}) for label, variant, env in cases}
    warm = interleaved_warm(workers, workload, n, repeat)
    print(f"warm: the {workload} workload; medians of {repeat} (warm: runs of {n}), interleaved")
    print(
        f"{'case':34} {'cold wall ms':>12} {'cold CPU ms':>12} {'warm us/inv':>12}"
        f" {'added':>7} {'warm CPU us/inv':>16}"
    )
    bare_warm = statistics.median(value[0] for value in warm[BARE.label])
    for label, _, _ in cases:
        wall = statistics.median(value[0] for value in cold[label])
        cpu = statistics.median(value[1] for value in cold[label])
        warm_wall = statistics.median(value[0] for value in warm[label])
        warm_cpu = statistics.median(value[1] for value in warm[label])
        print(
            f"{label:34} {wall:12.1f} {cpu:12.1f} {warm_wall:12.1f}"
            f" {warm_wall - bare_warm:7.1f} {warm_cpu:16.1f}"
        )


def report_send_share(
    variants: tuple[Variant, ...],
    address: str,
    extra: dict[str, str],
    workload: str,
    n: int,
    repeat: int,
) -> None:
    import statistics

    from workers import Worker

    cases = [(variant.key, drop) for drop in ("0", "1") for variant in variants]
    by_key = {variant.key: variant for variant in variants}
    workers = {
        (key, drop): Worker(by_key[key], address, {**extra, "BENCH_DROP_DATAGRAMS": drop})
        for key, drop in cases
    }
    measured = interleaved_warm(workers, workload, n, repeat)
    wall = {case: [value[0] for value in values] for case, values in measured.items()}
    cpu = {case: [value[1] for value in values] for case, values in measured.items()}
    print(
        f"warm {workload} workload, us per invocation: median of {repeat} runs of {n}, interleaved"
    )
    header = f"{'variant':26} {'datagram':>9} {'wall':>7} {'added':>7} {'/ PT':>6}"
    print(f"{header} {'CPU':>7} {'added':>7} {'/ PT':>6}")
    for drop in ("0", "1"):
        for variant in variants:
            line = f"{variant.label:26} {'dropped' if drop == '1' else 'sent':>9}"
            for series in (wall, cpu):
                value = statistics.median(series[variant.key, drop])
                bare = statistics.median(series[BARE.key, drop])
                anchor = statistics.median(series[POWERTOOLS.key, drop]) - bare
                added = value - bare
                plain = variant.key in (BARE.key, POWERTOOLS.key)
                ratio = "-" if plain else f"{added / anchor:.2f}x"
                line += f" {value:7.1f} {added:7.1f} {ratio:>6}"
            print(line)


def _setting(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not name or not equals:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("what", choices=("imports", "warm", "opcodes", "init", "ablate", "send"))
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--variant", default="ours", choices=[v.key for v in ALL_VARIANTS])
    parser.add_argument(
        "--workload",
        default="plain",
        choices=("plain", "subsegment", "botocore", "botocore_stub", "http"),
    )
    parser.add_argument("-n", type=int, default=20000)
    parser.add_argument("--unsampled", action="store_true")
    parser.add_argument(
        "--as-lambda",
        action="store_true",
        help="send, opcodes, ablate: on the runtime's Python with only what ships "
        "(lambda_python.py)",
    )
    parser.add_argument(
        "--no-boto3", action="store_true", help="the function imports neither boto3 nor requests"
    )
    parser.add_argument(
        "--env",
        type=_setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for every variant (repeatable), e.g. "
        "LAMBDA_TRACING_PATCH=none for the opcodes of a feature switched off",
    )
    parser.add_argument("--rows", type=int, default=40, help="opcodes: functions listed")
    parser.add_argument(
        "--drop", action="store_true", help="ablate: datagram sends return at once (as in send)"
    )
    args = parser.parse_args()
    variants: tuple[Variant, ...] = tuple(
        v for v in ALL_VARIANTS if v.key in ("bare", "powertools", "ours", "ours_otlp")
    )
    if args.as_lambda:
        from lambda_python import WARM_AS_LAMBDA_VARIANTS

        variants = WARM_AS_LAMBDA_VARIANTS
    chosen = [v for v in (variants if args.as_lambda else ALL_VARIANTS) if v.key == args.variant]
    if not chosen:
        sys.exit(f"{args.variant}: not a variant here")
    variant = chosen[0]
    reason = variant.unavailable_reason()
    if reason:
        sys.exit(f"{variant.label}: {reason}")
    with DaemonListener() as listener, Downstream() as downstream:
        extra = {
            "BENCH_HTTP_URL": downstream.http_url,
            "BENCH_DOWNSTREAM": "0" if args.no_boto3 else "1",
        }
        extra.update(args.env)
        if args.what == "ablate":
            if args.drop:
                extra["BENCH_DROP_DATAGRAMS"] = "1"
            report_ablations(
                variants, listener.address, extra, args.workload, min(args.n, 2000), args.repeat
            )
        elif args.what == "send":
            report_send_share(
                variants,
                listener.address,
                extra,
                args.workload,
                min(args.n, 2000),
                max(args.repeat, 9),
            )
        elif args.what == "imports":
            bare = next(v for v in variants if v.key == BARE.key)
            report_imports(variant, bare, listener.address, extra)
        elif args.what == "init":
            report_pyinstrument(variant, listener.address, extra, ["cold", "plain"])
        else:
            sampled = "0" if args.unsampled else "1"
            command = variant.command("loop", args.workload, str(args.n), sampled)
            profiler = "opcodes" if args.what == "opcodes" else "pyinstrument"
            if profiler == "opcodes":
                command = variant.command("loop", args.workload, str(min(args.n, 200)), sampled)
            env = variant.environment(
                listener.address,
                {
                    **extra,
                    "BENCH_PROFILE": profiler,
                    "BENCH_OPCODE_ROWS": str(args.rows),
                },
            )
            finished = _run(variant, command, env)
            print(finished.stderr[-300000:])
            print(finished.stdout.strip().splitlines()[-1])
        print(f"(daemon listener: {listener.settled_counts()[0]} datagrams)")


if __name__ == "__main__":
    main()
