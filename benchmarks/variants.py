"""The variants compared side by side, and how to start a fresh execution environment of each."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from lambda_env import BENCHMARKS_DIR, FUNCTIONS_DIR, LAYER_WRAPPER, REPO_ROOT, lambda_environment

MINI_RUNTIME = str(BENCHMARKS_DIR / "mini_runtime.py")
USER_HANDLER = "bench_function.handler"


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    handler: str = USER_HANDLER
    env: dict[str, str] = field(default_factory=dict)
    through_layer_wrapper: bool = False

    def unavailable_reason(self) -> str | None:
        """Why this variant cannot run here, or None."""
        if not self.through_layer_wrapper:
            return None
        if not LAYER_WRAPPER.exists():
            return f"{LAYER_WRAPPER.relative_to(BENCHMARKS_DIR.parent)} not found"
        if not os.access(LAYER_WRAPPER, os.X_OK):
            return "layer wrapper is not executable"
        return None

    def command(self, mode: str, *args: str, python_options: tuple[str, ...] = ()) -> list[str]:
        """argv of a fresh execution environment: the runtime, behind the exec wrapper if any."""
        runtime = [sys.executable, *python_options, MINI_RUNTIME, mode, *args]
        if self.through_layer_wrapper:
            return [str(LAYER_WRAPPER), *runtime]
        return runtime

    def environment(self, daemon_address: str, extra: dict[str, str]) -> dict[str, str]:
        env = lambda_environment(self.handler, daemon_address, {**self.env, **extra})
        if self.through_layer_wrapper:
            env["AWS_LAMBDA_EXEC_WRAPPER"] = str(LAYER_WRAPPER)
        return env


BARE = Variant("bare", "bare handler", env={"BENCH_TRACER": "bare"})
POWERTOOLS = Variant("powertools", "Powertools Tracer", env={"BENCH_TRACER": "powertools"})
XRAY_SDK = Variant("xray_sdk", "aws-xray-sdk by hand", env={"BENCH_TRACER": "xray_sdk"})
OTEL = Variant(
    "otel",
    "OpenTelemetry Lambda",
    handler="otel_bench_wrapper.lambda_handler",
    env={"BENCH_TRACER": "otel", "ORIG_HANDLER": USER_HANDLER},
)
OURS = Variant(
    "ours", "ours (layer wrapper)", env={"BENCH_TRACER": "ours"}, through_layer_wrapper=True
)

OURS_OTLP = Variant(
    "ours_otlp",
    "ours, OTLP mode",
    env={"BENCH_TRACER": "ours", "LAMBDA_TRACING_EXPORTER": "otlp"},
    through_layer_wrapper=True,
)


@dataclass(frozen=True)
class AdotVariant(Variant):
    """ADOT as its Lambda layer runs it: functions/adot-instrument as AWS_LAMBDA_EXEC_WRAPPER
    (the layer's otel-instrument settings, then opentelemetry-instrument), with .tools/adot's
    packages (aws-opentelemetry-distro, `make tools`) in front of the runtime's."""

    def _site_packages(self) -> Path | None:
        found = sorted(ADOT_VENV.glob("lib/python3.*/site-packages"))
        return found[0] if found else None

    def unavailable_reason(self) -> str | None:
        site = self._site_packages()
        if site is None or not (ADOT_VENV / "bin" / "opentelemetry-instrument").exists():
            return ".tools/adot not installed (make tools)"
        runtime = f"python{sys.version_info[0]}.{sys.version_info[1]}"
        if site.parent.name != runtime:
            return f".tools/adot is for {site.parent.name}, the runtime is {runtime}"
        return None

    def command(self, mode: str, *args: str, python_options: tuple[str, ...] = ()) -> list[str]:
        return [str(ADOT_WRAPPER), sys.executable, *python_options, MINI_RUNTIME, mode, *args]

    def environment(self, daemon_address: str, extra: dict[str, str]) -> dict[str, str]:
        env = lambda_environment(self.handler, daemon_address, {**self.env, **extra})
        env["AWS_LAMBDA_EXEC_WRAPPER"] = str(ADOT_WRAPPER)
        env["ADOT_SITE_PACKAGES"] = str(self._site_packages())
        return env


ADOT_VENV = REPO_ROOT / ".tools" / "adot"
ADOT_WRAPPER = FUNCTIONS_DIR / "adot-instrument"
ADOT = AdotVariant("adot", "ADOT (aws-opentelemetry-distro)", env={"BENCH_TRACER": "otel"})

ALL_VARIANTS = (BARE, POWERTOOLS, XRAY_SDK, OTEL, ADOT, OURS, OURS_OTLP)
