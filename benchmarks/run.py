"""One benchmark command: every row measured side by side in the same run, one table printed.

    python benchmarks/run.py [--quick] [--json FILE]

Starts a stand-in X-Ray daemon (UDP listener) and a local HTTP server on loopback (DynamoDB is
moto in-process), then measures warm invocations, unsampled invocations and cold starts of each
variant (bare, Powertools Tracer, aws-xray-sdk by hand, OpenTelemetry, our layer through its
wrapper), and adds the rows of the service-map and local X-Ray benchmarks when present.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import sys
import time
import traceback
from dataclasses import asdict
from typing import Any

from bench_event_sources import measure_event_sources
from cold_start import AS_LAMBDA, LAMBDA_KINDS, measure_cold_starts
from downstream import Downstream
from lambda_python import AS_LAMBDA_VARIANTS, CONDITIONS, WARM_AS_LAMBDA_VARIANTS
from results import Section
from table import render
from udp_listener import DaemonListener
from variants import ALL_VARIANTS
from versus_adot import render_versus_adot
from warm import AS_LAMBDA_TITLE, AS_LAMBDA_WORKLOADS, measure_warm

OTHER_MODULES = ("bench_service_map", "bench_local_xray")


def machine_description() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def other_rows(quick: bool) -> list[dict[str, Any]]:
    """Rows of the other benchmark modules; a missing or failing one becomes a note."""
    rows: list[dict[str, Any]] = []
    for name in OTHER_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            rows.append({"name": name, "note": f"n/a (not present: {error})"})
            continue
        except Exception as error:
            rows.append({"name": name, "note": f"n/a (import failed: {error!r:.160})"})
            continue
        try:
            rows.extend(module.run(quick=quick))
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            rows.append({"name": name, "note": f"n/a (failed: {error!r:.160})"})
    return rows


def progress(phase: str, started: float) -> None:
    print(f"[{time.monotonic() - started:5.0f} s] {phase} done", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short version, under a minute")
    parser.add_argument("--json", metavar="FILE", help="also write every per-run figure as JSON")
    args = parser.parse_args()

    runs, scale, cold_repetitions = (2, 0.1, 2) if args.quick else (9, 1.0, 10)
    # The rows of acceptance: a tracer's cold start is a few percent of the process's, so more
    # fresh processes than elsewhere.
    lambda_cold_repetitions = 3 if args.quick else 30
    started = time.monotonic()
    labels = {variant.key: variant.label for variant in ALL_VARIANTS}
    sections: list[Section] = []
    with DaemonListener() as listener, Downstream() as downstream:
        extra_env = {"BENCH_HTTP_URL": downstream.http_url}
        sections += measure_warm(ALL_VARIANTS, listener, extra_env, runs, scale)
        progress("warm", started)
        sections += measure_warm(
            WARM_AS_LAMBDA_VARIANTS,
            listener,
            extra_env,
            runs,
            scale,
            workloads=AS_LAMBDA_WORKLOADS,
            title_prefix=AS_LAMBDA_TITLE,
        )
        progress("warm as Lambda", started)
        sections += measure_cold_starts(
            AS_LAMBDA_VARIANTS,
            listener,
            extra_env,
            lambda_cold_repetitions,
            conditions=AS_LAMBDA,
            kinds=LAMBDA_KINDS,
        )
        progress("cold start as Lambda", started)
        sections += measure_cold_starts(
            ALL_VARIANTS, listener, extra_env, cold_repetitions, warm_up_round=not args.quick
        )
        progress("cold start", started)
        sections += measure_event_sources(listener, args.quick)
        progress("event sources", started)
    extra = other_rows(args.quick)
    progress("other modules", started)

    mode = "quick" if args.quick else "full"
    now = datetime.datetime.now(datetime.UTC)
    print(f"lambda-tracing benchmark ({mode}), {now:%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine_description()}")
    print(
        f"warm: median of {runs} runs (each the mean of its invocations); "
        f"cold: median of {cold_repetitions} fresh processes ({lambda_cold_repetitions} as "
        "Lambda runs it); all variants interleaved"
    )
    print(f"as Lambda: {CONDITIONS}")
    print()
    print(render(sections, labels, extra))
    print()
    print(render_versus_adot(sections))
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(
                {
                    "mode": mode,
                    "machine": machine_description(),
                    "sections": [asdict(section) for section in sections],
                    "other": extra,
                },
                out,
                indent=1,
                default=str,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
