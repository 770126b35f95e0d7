"""Runs one adversarial case (tests/adversarial/case.py) twice under the real awslambdaric, fed
by the project's own Runtime API (lambda_tracing_local.runtime): once bare, once through the
built layer's wrapper as AWS_LAMBDA_EXEC_WRAPPER, and says what differs (issue 17).

Both runs share the task root, the request ids, the trace headers and every environment
variable, so what the runtime reports must match exactly: the result, or the error's type,
message and stackTrace (its log lines too); the time each invocation took may grow by at most
`case.time_budget_seconds`; and every datagram the layer sends to the real UDP listener must be
a valid segment document (AWS's schema in tests/fixtures/xray), at most 64 KB, free of
`case.secrets`. Differences that are the layer's purpose are named by `case.allowed_differences`
and removed by DELIBERATE below, as listed in the README's "What the layer changes".
"""

from __future__ import annotations

import functools
import importlib
import json
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from case import Case
from lambda_tracing_local.runtime.environment import RUNTIME_COMMAND, Environment

sys.path.append(str(Path(__file__).resolve().parents[1] / "functional"))
from layer_support import UdpListener, build_layer, new_trace_header  # noqa: E402

CASES_DIRECTORY = Path(__file__).parent / "cases"
DATAGRAM_LIMIT = 64 * 1024
# The layer's cold start itself is the benchmarks' to measure; this bound catches work that has
# no place in init at all (a daemon host name looked up there, blocking).
INIT_BUDGET_SECONDS = 1.0
INVOKE_TIMEOUT_SECONDS = 60
# Lambda's own variables, as both runs see them (the layer's wrapper adds its own on top).
LAMBDA_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "adversarial-fn",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/adversarial-fn",
    "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "TZ": ":UTC",
    "LANG": "en_US.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",  # the task root is read-only on Lambda; runs stay alike
}
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:adversarial-fn"


@functools.cache
def collect_cases() -> list[Case]:
    """Every tests/adversarial/cases/*.py module's CASES, names checked to be unique."""
    cases: list[Case] = []
    for path in sorted(CASES_DIRECTORY.glob("*.py")):
        if not path.name.startswith("_"):
            cases.extend(importlib.import_module(f"cases.{path.stem}").CASES)
    names = [case.name for case in cases]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"adversarial case names used twice: {duplicates}")
    return cases


def _dropping(*names: str, prefix: str | None = None) -> Callable[[Any, Case], Any]:
    """Removes the named keys (any case), or keys starting with `prefix`, at any depth."""
    lowered = {name.lower() for name in names}

    def drop(value: Any, case: Case) -> Any:
        if isinstance(value, dict):
            return {
                key: drop(item, case)
                for key, item in value.items()
                if not (
                    str(key).lower() in lowered
                    or (prefix is not None and str(key).startswith(prefix))
                )
            }
        if isinstance(value, list):
            return [drop(item, case) for item in value]
        return value

    return drop


def _handler_named_as_the_users(value: Any, case: Case) -> Any:
    if isinstance(value, dict):
        return {
            key: _handler_named_as_the_users(item, case)
            for key, item in value.items()
            if key != "LAMBDA_TRACING_HANDLER"
        }
    if isinstance(value, list):
        return [_handler_named_as_the_users(item, case) for item in value]
    return case.handler if value == "lambda_tracing.bootstrap.handler" else value


# The layer's deliberate effects (README "What the layer changes"): each removes that effect
# from both runs' reports (parsed JSON) before they are compared, for cases that name it.
DELIBERATE: dict[str, Callable[[Any, Case], Any]] = {
    # The wrapper points _HANDLER at the layer and keeps the user's in LAMBDA_TRACING_HANDLER.
    "_HANDLER": _handler_named_as_the_users,
    # Outbound calls carry the trace header (HTTP header, SQS system attribute, ...).
    "trace-header": _dropping("X-Amzn-Trace-Id", "AWSTraceHeader"),
    # Log records carry xray_trace_id (the log filter).
    "xray_trace_id": _dropping("xray_trace_id"),
    # The wrapper sets LAMBDA_TRACING_* defaults, AWS_XRAY_CONTEXT_MISSING and PYTHONPATH.
    "environment": _dropping("AWS_XRAY_CONTEXT_MISSING", "PYTHONPATH", prefix="LAMBDA_TRACING_"),
}


@dataclass
class Invoked:
    """What the runtime reported for one invocation."""

    report: str  # the payload (result or error document) as the runtime posted it
    error_type: str | None
    seconds: float  # from delivery of the event to the runtime's answer


@dataclass
class Run:
    mode: str  # "bare" or "layer"
    invocations: list[Invoked] = field(default_factory=list)
    datagrams: list[bytes] = field(default_factory=list)
    log: str = ""
    init_seconds: float = 0.0


@dataclass
class Verdict:
    case: Case
    bare: Run
    layer: Run
    differences: list[str]


def _report_text(payload: bytes, daemon_address: str) -> str:
    """The payload as comparable text (each run has its own daemon port: named alike)."""
    return payload.decode(errors="replace").replace(daemon_address, "<daemon>")


def _event_bytes(event: Any) -> bytes:
    return event if isinstance(event, bytes) else json.dumps(event).encode()


class Harness:
    """Builds the layer once; `run(case)` runs it bare and through the layer and compares."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root or tempfile.mkdtemp(prefix="adversarial-"))
        self.wrapper = build_layer(self.root / "opt")

    def task_root(self, case: Case) -> Path:
        task = self.root / "cases" / case.name / "task"
        if not task.exists():
            task.mkdir(parents=True)
            for name, source in case.files.items():
                path = task / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(source)
        return task

    def run_once(
        self, case: Case, mode: str, headers: list[str | None], request_ids: list[str]
    ) -> Run:
        task = self.task_root(case)
        listener = UdpListener()
        log_path = task.parent / f"{mode}.log"
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": "/tmp",
            **LAMBDA_ENV,
            "LAMBDA_TASK_ROOT": str(task),
            "LAMBDA_RUNTIME_DIR": str(Path(sys.executable).parent),
            "PYTHONPATH": str(task),
            "_HANDLER": case.handler,
            "AWS_XRAY_DAEMON_ADDRESS": listener.address,
            **case.env,
        }
        command = list(RUNTIME_COMMAND)
        if mode == "layer":
            command = [str(self.wrapper), *command]
        run = Run(mode)
        with log_path.open("wb") as log:
            environment = Environment(
                "adversarial-fn", FUNCTION_ARN, INVOKE_TIMEOUT_SECONDS, command, env, str(task), log
            )
            environment.start()
            try:
                for event, header, request_id in zip(
                    case.events, headers, request_ids, strict=True
                ):
                    outcome = environment.invoke(_event_bytes(event), header, request_id=request_id)
                    # Init is the layer's cold start, measured by the benchmarks: only the
                    # invocation itself is timed (an init failure has none).
                    seconds = (
                        outcome.finished_at - outcome.delivered_at
                        if outcome.delivered_at is not None
                        else 0.0
                    )
                    run.invocations.append(
                        Invoked(
                            _report_text(outcome.payload, listener.address),
                            outcome.error_type,
                            seconds,
                        )
                    )
                    if outcome.init_started is not None and outcome.init_ended is not None:
                        run.init_seconds = outcome.init_ended - outcome.init_started
                    if not environment.alive:
                        break
            finally:
                environment.stop()
        run.datagrams = _drain(listener)
        listener.close()
        run.log = log_path.read_text(errors="replace")
        return run

    def run(self, case: Case, validator: Any) -> Verdict:
        """Bare, then layer; a time difference alone is measured again (a busy machine) and the
        best of each mode kept."""
        headers = (
            list(case.trace_headers)
            if case.trace_headers is not None
            else [new_trace_header() for _ in case.events]
        )
        request_ids = [
            str(uuid.uuid5(uuid.NAMESPACE_URL, f"{case.name}/{index}"))
            for index in range(len(case.events))
        ]
        bare = self.run_once(case, "bare", headers, request_ids)
        layer = self.run_once(case, "layer", headers, request_ids)
        differences = compare(case, bare, layer, validator)
        for _ in range(2):
            if not differences or not all(d.startswith("time") for d in differences):
                break
            time.sleep(0.2)
            _keep_fastest(bare, self.run_once(case, "bare", headers, request_ids))
            _keep_fastest(layer, self.run_once(case, "layer", headers, request_ids))
            differences = compare(case, bare, layer, validator)
        return Verdict(case, bare, layer, differences)


def _keep_fastest(best: Run, again: Run) -> None:
    best.init_seconds = min(best.init_seconds, again.init_seconds)
    for kept, new in zip(best.invocations, again.invocations, strict=False):
        kept.seconds = min(kept.seconds, new.seconds)


def _drain(listener: UdpListener) -> list[bytes]:
    """Every datagram already sent (the runtime has stopped): none arrive later."""
    received: list[bytes] = []
    listener.socket.settimeout(0.05)
    while True:
        try:
            received.append(listener.socket.recv(1 << 17))
        except TimeoutError:
            return received


def _normalise(text: str, case: Case) -> str:
    """JSON re-serialised with sorted keys, the case's allowed differences taken out (requestId
    kept: both runs use the same ids); anything else as it came."""
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return text
    for name in case.allowed_differences:
        value = DELIBERATE[name](value, case)
    return json.dumps(value, sort_keys=True)


_RUNTIME_CLOCK = re.compile(r"\[\d{10,}\]")  # the runtime's own log lines carry epoch ms


def _runtime_log_errors(log: str) -> list[str]:
    """The runtime's own error report lines ([ERROR] ... and the traceback it prints)."""
    return [
        _RUNTIME_CLOCK.sub("[time]", line)
        for line in log.split("\n")
        if line.startswith("[ERROR] ")
    ]


def compare(case: Case, bare: Run, layer: Run, validator: Any) -> list[str]:
    differences: list[str] = []
    if len(bare.invocations) != len(layer.invocations):
        differences.append(
            f"invocations: bare {len(bare.invocations)}, layer {len(layer.invocations)}"
        )
    for index, (b, lay) in enumerate(zip(bare.invocations, layer.invocations, strict=False)):
        bare_report, layer_report = _normalise(b.report, case), _normalise(lay.report, case)
        if bare_report != layer_report:
            differences.append(
                f"event {index} report:\n  bare:  {bare_report[:1500]}\n"
                f"  layer: {layer_report[:1500]}"
            )
        if b.error_type != lay.error_type:
            differences.append(
                f"event {index} error type: bare {b.error_type}, layer {lay.error_type}"
            )
        extra = lay.seconds - b.seconds
        if extra > case.time_budget_seconds:
            differences.append(
                f"time: event {index} took {extra * 1000:.0f} ms more with the "
                f"layer ({b.seconds * 1000:.0f} ms bare), budget "
                f"{case.time_budget_seconds * 1000:.0f} ms"
            )
    if layer.init_seconds - bare.init_seconds > INIT_BUDGET_SECONDS:
        differences.append(
            f"time: init took {layer.init_seconds:.2f} s with the layer, "
            f"{bare.init_seconds:.2f} s bare"
        )
    for run in (bare, layer):
        # awslambdaric's own words when the Runtime API refuses what it posts (the local
        # Runtime API must take all that Lambda's takes, or both runs crash alike unseen).
        if "Failed to post" in run.log:
            differences.append(f"{run.mode}: the runtime could not post to the Runtime API")
    bare_errors, layer_errors = _runtime_log_errors(bare.log), _runtime_log_errors(layer.log)
    if bare_errors != layer_errors:
        differences.append(f"runtime error log:\n  bare:  {bare_errors}\n  layer: {layer_errors}")
    differences.extend(datagram_problems(case, bare.datagrams + layer.datagrams, validator))
    return differences


def datagram_problems(case: Case, datagrams: list[bytes], validator: Any) -> list[str]:
    problems: list[str] = []
    sent_ids: set[str] = set()
    for number, data in enumerate(datagrams):
        if len(data) > DATAGRAM_LIMIT:
            problems.append(f"datagram {number}: {len(data)} bytes, over 64 KB")
        header, _, body = data.partition(b"\n")
        try:
            if json.loads(header) != {"format": "json", "version": 1}:
                problems.append(f"datagram {number}: header {header[:80]!r}")
            document = json.loads(body)
        except ValueError as error:
            problems.append(f"datagram {number}: not JSON ({error}): {data[:200]!r}")
            continue
        errors = sorted(validator.iter_errors(document), key=str)
        if errors:
            problems.append(
                f"datagram {number}: not a valid segment document: {errors[0].message[:300]}"
            )
        for entity_id in _ids(document):  # each segment or subsegment is sent once
            if entity_id in sent_ids:
                problems.append(f"datagram {number}: id {entity_id} sent a second time")
            sent_ids.add(entity_id)
        text = data.decode(errors="replace")
        for secret in case.secrets:
            if secret in text:
                problems.append(f"datagram {number}: carries the secret {secret[:40]!r}")
    return problems


def _ids(document: dict[str, Any]) -> list[str]:
    """Ids of the entities a document carries whole (a streamed subsegment's parent is only
    referenced: its id is in `parent_id`, not repeated here)."""
    ids = [document["id"]] if isinstance(document.get("id"), str) else []
    for child in document.get("subsegments") or []:
        if isinstance(child, dict):
            ids.extend(_ids(child))
    return ids
