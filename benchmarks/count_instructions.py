"""Instructions per invocation and per cold start under callgrind: the deterministic cross-check of
`make bench` (not part of it; about 15 minutes). Other tenants of a shared host move wall and CPU
times; they do not move instruction counts.

    python benchmarks/count_instructions.py [--workloads plain,botocore_stub,http] [--cold]
                                            [--as-lambda]

--as-lambda runs every variant as Lambda does (lambda_python.py: the runtime's Python, nothing
compiled written, the layer as built) instead of on this machine's Python.

Warm: each variant runs through the mini runtime's `loop` mode (through the layer's exec wrapper
for ours) with N1 and N2 invocations; (count(N2) - count(N1)) / (N2 - N1) is one invocation's
cost, the imports and warm-up cancelling out. Cold: one whole cold start (`cold` mode). Both are
printed as added over the bare handler, and as a ratio to Powertools Tracer's added count.

Interpreter shutdown (Py_FinalizeEx: atexit, module teardown, the last garbage collections) is
not counted: Lambda never finalizes the runtime's interpreter, and a cold start ends with the
first invocation's response. Which module holds the handler changes what teardown must collect
(25-30 M instructions with boto3 loaded), which says nothing about a cold start.
"""

from __future__ import annotations

import argparse
import re
import subprocess

from downstream import Downstream
from udp_listener import DaemonListener
from variants import ALL_VARIANTS, BARE, POWERTOOLS, Variant

N1, N2 = 50, 550
_COLLECTED = re.compile(r"Collected : ([\d,]+)")


def instructions(variant: Variant, args: list[str], env: dict[str, str]) -> int:
    """Instructions of the whole process tree (the exec wrapper's exec included)."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--trace-children=yes",
        "--callgrind-out-file=/dev/null",
        # Not inside interpreter shutdown (see above); everything else from the start.
        "--toggle-collect=Py_FinalizeEx",
        "--collect-atstart=yes",
        *variant.command(*args),
    ]
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    counts = _COLLECTED.findall(finished.stderr)
    if finished.returncode != 0 or not counts:
        raise SystemExit(f"{variant.key} failed under valgrind:\n{finished.stderr[-2000:]}")
    return sum(int(count.replace(",", "")) for count in counts)


def report(title: str, counts: dict[str, float], unit: float) -> None:
    bare = counts[BARE.key]
    anchor = counts[POWERTOOLS.key] - bare
    print(title)
    for key, count in counts.items():
        added = count - bare
        ratio = f"{added / anchor:5.2f}x Powertools" if key != BARE.key and anchor else ""
        print(f"  {key:12} {count / unit:10.1f}  added {added / unit:10.1f}  {ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--workloads", default="plain,botocore_stub,http")
    parser.add_argument("--cold", action="store_true", help="also count whole cold starts")
    parser.add_argument(
        "--variants",
        default="bare,powertools,ours",
        help="variant keys (bare and powertools always included)",
    )
    parser.add_argument(
        "--as-lambda",
        action="store_true",
        help="on the runtime's Python with only what ships (lambda_python.py)",
    )
    args = parser.parse_args()
    wanted = {"bare", "powertools", *args.variants.split(",")}
    variants: tuple[Variant, ...] = tuple(
        variant for variant in ALL_VARIANTS if variant.key in wanted
    )
    if args.as_lambda:
        from lambda_python import CONDITIONS, WARM_AS_LAMBDA_VARIANTS, prepare

        if reason := prepare():
            raise SystemExit(reason)
        variants = tuple(variant for variant in WARM_AS_LAMBDA_VARIANTS if variant.key in wanted)
        print(f"as Lambda: {CONDITIONS}")
    with DaemonListener() as listener, Downstream() as downstream:
        extra = {"BENCH_HTTP_URL": downstream.http_url, "PYTHONHASHSEED": "0"}
        for workload in filter(None, args.workloads.split(",")):
            counts = {}
            for variant in variants:
                env = variant.environment(listener.address, extra)
                # Unmeasured, so a stale .pyc is rewritten now: compiling inside the N1 run
                # alone would take its cost off the per-invocation figure.
                subprocess.run(
                    variant.command("loop", workload, "1", "1"),
                    env=env,
                    capture_output=True,
                    timeout=600,
                    check=False,
                )
                low = instructions(variant, ["loop", workload, str(N1), "1"], env)
                high = instructions(variant, ["loop", workload, str(N2), "1"], env)
                counts[variant.key] = (high - low) / (N2 - N1)
            report(f"warm, {workload}: instructions per invocation (thousands)", counts, 1e3)
        if args.cold:
            for downstream_flag in ("1", "0"):
                counts = {}
                for variant in variants:
                    env = variant.environment(
                        listener.address, {**extra, "BENCH_DOWNSTREAM": downstream_flag}
                    )
                    counts[variant.key] = float(instructions(variant, ["cold", "plain"], env))
                what = "imports boto3" if downstream_flag == "1" else "imports neither"
                report(f"cold start, function {what}: instructions (millions)", counts, 1e6)


if __name__ == "__main__":
    main()
