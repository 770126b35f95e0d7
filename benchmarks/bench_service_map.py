"""Service-map benchmark: time and peak memory of summarising generated service graphs.

Graphs of 200, 2,000 and 20,000 edges (20, 200 and 2,000 nodes) as GetServiceGraph pages of
100 services, built beforehand (not timed). Time is the median of a few runs of
``summarise``, wall clock and CPU (the CPU time of this process, steadier on a busy
machine); peak memory is what ``summarise`` allocates on top of its input, by tracemalloc
in a separate run (tracemalloc slows code down). Goal: 2,000 nodes / 20,000 edges under
1 s and 200 MB, growing linearly.

    python benchmarks/bench_service_map.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
import tracemalloc

SIZES = ((20, 200), (200, 2_000), (2_000, 20_000))
GOAL_SECONDS = 1.0
GOAL_MB = 200.0


def measure(nodes: int, edges: int, repeats: int) -> dict:
    from service_map.summary import summarise
    from service_map.synthetic import generate_pages

    pages = generate_pages(nodes, edges, page_size=100, seed=1)
    times, cpu_times = [], []
    for _ in range(repeats):
        gc.collect()
        started, cpu_started = time.perf_counter(), time.process_time()
        summary = summarise(pages)
        times.append(time.perf_counter() - started)
        cpu_times.append(time.process_time() - cpu_started)
    gc.collect()
    tracemalloc.start()
    summarise(pages)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    seconds, cpu_seconds = statistics.median(times), statistics.median(cpu_times)
    return {
        "name": f"service_map_summarise_{edges}_edges",
        "nodes": len(summary["nodes"]),
        "edges": len(summary["edges"]),
        "pages": len(pages),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_seconds, 3),
        "microseconds_per_edge": round(seconds / edges * 1e6, 1),
        "cpu_microseconds_per_edge": round(cpu_seconds / edges * 1e6, 1),
        "peak_mb": round(peak / 2**20, 1),
        "goal_seconds": GOAL_SECONDS,
        "goal_mb": GOAL_MB,
    }


def run(quick: bool = False) -> list[dict]:
    """Rows for the benchmark runner, one per graph size (quick: one timed run each)."""
    return [measure(nodes, edges, repeats=1 if quick else 5) for nodes, edges in SIZES]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one timed run per size")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    arguments = parser.parse_args()
    rows = run(quick=arguments.quick)
    if arguments.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(
        f"{'edges':>7} {'nodes':>6} {'pages':>6} {'seconds':>8} {'cpu s':>8} {'us/edge':>8}"
        f" {'peak MB':>8}"
    )
    for row in rows:
        print(
            f"{row['edges']:>7} {row['nodes']:>6} {row['pages']:>6} {row['seconds']:>8.3f}"
            f" {row['cpu_seconds']:>8.3f} {row['microseconds_per_edge']:>8.1f}"
            f" {row['peak_mb']:>8.1f}"
        )
    biggest = rows[-1]
    met = biggest["seconds"] < GOAL_SECONDS and biggest["peak_mb"] < GOAL_MB
    print(
        f"goal ({biggest['nodes']} nodes / {biggest['edges']} edges < {GOAL_SECONDS:g} s and"
        f" < {GOAL_MB:g} MB): {'met' if met else 'NOT met'}"
    )
    if not met and biggest["cpu_seconds"] < GOAL_SECONDS < biggest["seconds"]:
        print(f"  (CPU time {biggest['cpu_seconds']:.3f} s: the machine is busy with other work)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
