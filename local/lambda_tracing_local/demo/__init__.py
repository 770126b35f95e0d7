"""`lambda-tracing demo` (and `make demo`): the whole mission on one machine.

`main(argv)` runs the flow in `flow.py`, prints the summary table and where the files are, and
returns non-zero if any part failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lambda_tracing_local.demo.flow import DemoSettings, run_demo

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lambda-tracing demo",
        description="Run the sample app locally with the tracing layer, send orders through it, "
        "run the service-map Lambda over the local X-Ray and write the results.",
    )
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument("--output", type=Path, default=Path("demo-output"))
    parser.add_argument("--requests", type=int, default=300, help="orders to send (default 300)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--prebuilt-layers",
        type=Path,
        default=None,
        metavar="DIR",
        help="use DIR/<LayerId> as the built layers instead of building them",
    )
    parser.add_argument(
        "--exporter",
        choices=("xray", "otlp"),
        default="xray",
        help="the layer's LAMBDA_TRACING_EXPORTER: segment documents (default) or OTLP spans "
        "in ADOT's UDP framing",
    )
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1:
        parser.exit(2, "lambda-tracing demo: --requests and --concurrency must be at least 1\n")
    if not args.template.exists():
        parser.exit(2, f"lambda-tracing demo: no template at {args.template}\n")
    settings = DemoSettings(
        template=args.template,
        output=args.output,
        requests=args.requests,
        concurrency=args.concurrency,
        exporter=args.exporter,
    )
    if args.prebuilt_layers is not None:
        from lambda_tracing_local.runtime import template as tpl

        layer_ids = tpl.layer_dirs(tpl.load_template(args.template), args.template.parent)
        settings.layer_dirs = {name: args.prebuilt_layers / name for name in layer_ids}
        missing = [str(path) for path in settings.layer_dirs.values() if not path.is_dir()]
        if missing:
            parser.exit(2, f"lambda-tracing demo: no prebuilt layer at {', '.join(missing)}\n")
    started = time.monotonic()

    def say(line: str) -> None:
        print(f"[{time.monotonic() - started:5.1f}s] {line}", flush=True)

    try:
        result = run_demo(settings, say)
    except KeyboardInterrupt:
        print("\ndemo interrupted; everything it started has been stopped", file=sys.stderr)
        return 130
    except Exception as error:  # report, never a bare traceback: the demo is the first contact
        print(f"demo failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    if result.summary is not None:
        from service_map.formats import to_table

        print()
        print(to_table(result.summary))
    if result.traffic is not None:
        statuses = ", ".join(f"{n} x {s}" for s, n in sorted(result.traffic.statuses.items()))
        print(
            f"\norders: {statuses}; payment service: {result.payment_charges} charges, "
            f"{result.payment_throttled} throttled"
        )
    for label, path in result.files.items():
        print(f"{label}: {path}")
    print(f"function logs: {settings.output / 'functions.log'}")
    print(f"took {result.seconds:.0f}s")
    for problem in result.problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if result.problems else 0
