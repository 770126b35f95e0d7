"""Memory the cold start maps and touches, as Lambda runs it: page faults and frame-stack chunks.

    python benchmarks/frame_stack.py [-n 5] [--no-boto3]

For the bare handler, Powertools Tracer and our layer (lambda_python.py: CPython 3.13, nothing
compiled written, each as it ships), one cold start each, repeated: the minor page faults of the
process (getrusage of the finished child) and, when `strace` is installed, how many 16 KiB
chunks of frame stack CPython mapped (mmap calls of exactly that size). Both are nearly
deterministic, unlike times on a shared host, and both cost far more on a microVM than their
instruction counts say: a chunk mapped, touched and unmapped costs about 20 us here
(startup.import_with_room).
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from lambda_python import AS_LAMBDA_VARIANTS, prepare
from udp_listener import DaemonListener

_CHUNK_MAP = re.compile(r"\bmmap\(NULL, 16384,")


def _faults(command: list[str], env: dict[str, str]) -> int:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt
    subprocess.run(command, env=env, capture_output=True, check=True, timeout=120)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt - before


def _chunk_maps(command: list[str], env: dict[str, str]) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "strace.txt"
        strace = ["strace", "-f", "-e", "trace=mmap", "-o", str(log)]
        subprocess.run([*strace, *command], env=env, capture_output=True, check=True, timeout=120)
        return len(_CHUNK_MAP.findall(log.read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=5, help="cold starts per variant")
    parser.add_argument("--no-boto3", action="store_true", help="a function importing neither")
    args = parser.parse_args()
    if reason := prepare():
        raise SystemExit(reason)
    has_strace = shutil.which("strace") is not None
    extra = {
        "BENCH_DOWNSTREAM": "0" if args.no_boto3 else "1",
        "BENCH_HTTP_URL": "http://127.0.0.1:9/",
    }
    faults: dict[str, list[int]] = {variant.key: [] for variant in AS_LAMBDA_VARIANTS}
    maps: dict[str, list[int]] = {variant.key: [] for variant in AS_LAMBDA_VARIANTS}
    with DaemonListener() as listener:
        for _ in range(args.n):
            for variant in AS_LAMBDA_VARIANTS:
                command = variant.command("cold", "plain")
                env = variant.environment(listener.address, extra)
                faults[variant.key].append(_faults(command, env))
                if has_strace:
                    maps[variant.key].append(_chunk_maps(command, env))
    what = "imports neither" if args.no_boto3 else "imports boto3 + requests, builds a client"
    print(f"cold start as Lambda runs it, function {what}; medians of {args.n} [min..max]")
    print(f"{'variant':12} {'minor page faults':>28} {'16 KiB frame-stack chunks mapped':>36}")
    for variant in AS_LAMBDA_VARIANTS:
        row = [_summary(faults[variant.key])]
        row.append(_summary(maps[variant.key]) if has_strace else "n/a (no strace)")
        print(f"{variant.key:12} {row[0]:>28} {row[1]:>36}")


def _summary(values: list[int]) -> str:
    return f"{statistics.median(values):.0f} [{min(values)}..{max(values)}]"


if __name__ == "__main__":
    main()
