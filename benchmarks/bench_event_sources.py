"""The first invocation with each event source's event, and a 10,000-record SQS batch (issue 17).

A layer that parses events with a heavy library pays for its import on the first event of that
source, which the cold-start rows (a `{}` event) never see. Every figure comes from a fresh
execution environment (bare, Powertools Tracer, our layer through its wrapper); only handler
calls are on the clock. The first row is the first invocation, with `{}`. Each source's row is
the first invocation with that source's event (sam's example, tests/fixtures/events) in an
environment whose first invocation had `{}`: what is left is what that source adds on its first
event, without the first invocation's own costs (same for every event) and their noise. The
batch row is the mean of warm invocations with 10,000 SQS records, each with a trace header.

    python benchmarks/bench_event_sources.py [--quick]     (or through run.py, with the rest)
    python benchmarks/bench_event_sources.py --instructions  (callgrind, a few minutes)

--instructions counts, under callgrind, what each source's first event adds over a `{}` one
(whole process with the source's event after `{}`, minus the same with `{}` twice): the same
figure without the wall clock's noise on a shared machine.
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from lambda_env import BENCHMARKS_DIR, LAYER_WRAPPER, REPO_ROOT
from results import Section, Series
from udp_listener import DaemonListener
from variants import BARE, OURS, POWERTOOLS, Variant

EVENTS_DIR = REPO_ROOT / "tests" / "fixtures" / "events"
RUNTIME = str(BENCHMARKS_DIR / "event_runtime.py")
VARIANTS = (BARE, POWERTOOLS, OURS)
SOURCES = (
    ("apigateway_rest", "API Gateway"),
    ("sqs", "SQS"),
    ("sns", "SNS"),
    ("eventbridge", "EventBridge"),
    ("kinesis", "Kinesis"),
    ("dynamodb", "DynamoDB streams"),
)
BATCH_RECORDS = 10_000
HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def write_events(directory: Path) -> dict[str, Path]:
    """Every event file the rows use: `{}`, each source's, and the big SQS batch."""
    paths = {"empty": directory / "empty.json"}
    paths["empty"].write_text("{}")
    for key, _ in SOURCES:
        paths[key] = EVENTS_DIR / f"{key}.json"
    record = json.loads((EVENTS_DIR / "sqs.json").read_text())["Records"][0]
    records = []
    for number in range(BATCH_RECORDS):
        one = copy.deepcopy(record)
        one["messageId"] = f"{number:08d}-b21e-4ac1-bd88-01bbb068cb78"
        one["attributes"]["AWSTraceHeader"] = HEADER
        records.append(one)
    paths["batch"] = directory / "sqs_batch.json"
    paths["batch"].write_text(json.dumps({"Records": records}))
    return paths


def run_once(variant: Variant, daemon: str, args: list[str]) -> tuple[float, float]:
    """(wall ms, CPU ms) printed by event_runtime in a fresh environment of `variant`."""
    command = [sys.executable, RUNTIME, *args]
    if variant.through_layer_wrapper:
        command = [str(LAYER_WRAPPER), *command]
    env = variant.environment(daemon, {"BENCH_DOWNSTREAM": "0"})
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    fields = (done.stdout.strip().splitlines() or [""])[-1].split()
    if done.returncode != 0 or len(fields) != 2:
        tail = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise RuntimeError(tail[:160])
    return int(fields[0]) / 1e6, int(fields[1]) / 1e6


def measure(
    sections: dict[str, Section], key: str, daemon: str, args: list[str], repetitions: int
) -> None:
    """Fill sections[key] with `repetitions` rounds of every variant, interleaved."""
    section = sections[key]
    for variant in VARIANTS:
        reason = variant.unavailable_reason()
        if reason:
            section.mark_unavailable(variant.key, reason)
        else:
            section.series[variant.key] = Series()
    for _ in range(repetitions):
        for variant in VARIANTS:
            series = section.series[variant.key]
            if series.unavailable:
                continue
            try:
                wall, cpu = run_once(variant, daemon, args)
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                section.mark_unavailable(variant.key, str(error))
                continue
            series.values.append(wall)
            series.cpu_values.append(cpu)


def measure_event_sources(listener: DaemonListener, quick: bool) -> list[Section]:
    repetitions, batch_invocations = (2, 3) if quick else (7, 20)
    with tempfile.TemporaryDirectory(prefix="bench-events-") as directory:
        paths = write_events(Path(directory))
        sections = {"empty": Section("first invocation: {} event", "ms")}
        sections.update(
            {
                key: Section(f"first {name} event (after one {{}} invocation)", "ms")
                for key, name in SOURCES
            }
        )
        sections["batch"] = Section(
            f"warm: {BATCH_RECORDS:,}-record SQS batch (each record with a trace header)", "ms"
        )
        measure(sections, "empty", listener.address, ["first", str(paths["empty"])], repetitions)
        for key, _ in SOURCES:
            measure(sections, key, listener.address, ["next", str(paths[key])], repetitions)
        measure(
            sections,
            "batch",
            listener.address,
            ["warm", str(paths["batch"]), str(batch_invocations)],
            repetitions,
        )
    return list(sections.values())


def count_instructions(variant: Variant, daemon: str, path: Path) -> int:
    """Instructions of a whole `next` run (the exec wrapper's exec included)."""
    from count_instructions import instructions

    env = variant.environment(daemon, {"BENCH_DOWNSTREAM": "0"})
    command = [sys.executable, RUNTIME, "next", str(path)]
    if variant.through_layer_wrapper:
        command = [str(LAYER_WRAPPER), *command]
    runner = Variant(variant.key, variant.label)  # instructions() runs variant.command(...)
    object.__setattr__(runner, "command", lambda *args: command)
    return instructions(runner, [], env)


def report_instructions(listener: DaemonListener) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-events-") as directory:
        paths = write_events(Path(directory))
        for variant in (BARE, OURS):
            empty = count_instructions(variant, listener.address, paths["empty"])
            for key, name in SOURCES:
                added = count_instructions(variant, listener.address, paths[key]) - empty
                print(
                    f"{variant.label:22} first {name} event: {added / 1e6:+.2f} M instructions "
                    f"over a {{}} one",
                    flush=True,
                )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--instructions", action="store_true")
    args = parser.parse_args()
    from table import render

    if args.instructions:
        with DaemonListener() as listener:
            report_instructions(listener)
        return 0
    with DaemonListener() as listener:
        sections = measure_event_sources(listener, args.quick)
    print(render(sections, {variant.key: variant.label for variant in VARIANTS}, []))
    return 0


if __name__ == "__main__":
    sys.exit(main())
