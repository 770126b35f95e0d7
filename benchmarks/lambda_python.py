"""Execution environments as Lambda runs them: CPython of the runtime's version (Debian's, from
.tools/), every file read-only in effect (PYTHONDONTWRITEBYTECODE=1, as on Lambda's read-only
/var/task, /var/runtime and /opt), and only the bytecode that ships:

  runtime/   what the runtime provides (boto3, botocore, awslambdaric) plus what the function
             bundles (requests) and the mini runtime itself, compiled once, the same for every
             variant;
  powertools/python   Powertools and aws-xray-sdk as Powertools' public layer ships them,
             compiled for this version (checked-hash);
  layer/     our layer exactly as `sam build` makes it (layers/tracing/Makefile: checked-hash
             bytecode for each declared runtime), run through its own exec wrapper.

Set up under build/bench-pythonX.Y/ on first use and again when the pins or the layer change
(about a minute); needs the interpreter from `make lambda-pythons`.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from lambda_env import BENCHMARKS_DIR, FUNCTIONS_DIR, REPO_ROOT, lambda_environment
from variants import BARE, OURS, OURS_OTLP, POWERTOOLS, Variant

VERSION = "3.13"
INTERPRETER = REPO_ROOT / f".tools/python{VERSION}/bin/python{VERSION}"
ROOT = REPO_ROOT / f"build/bench-python{VERSION}"
RUNTIME_PACKAGES = ("boto3", "botocore", "awslambdaric", "requests")
POWERTOOLS_PACKAGES = ("aws-lambda-powertools", "aws-xray-sdk")
MINI_RUNTIME_FILES = ("mini_runtime.py", "lambda_env.py", "moto_in_process.py")
LAYER_SOURCES = REPO_ROOT / "layers/tracing"
CONDITIONS = (
    f"CPython {VERSION} (Debian), PYTHONDONTWRITEBYTECODE=1 (read-only as on Lambda), "
    "our layer as built (checked-hash .pyc), Powertools + aws-xray-sdk as a layer with .pyc, "
    "boto3/requests/runtime with .pyc"
)


def _pins(names: tuple[str, ...]) -> list[str]:
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    import pins

    config_pins = {
        p.split("==")[0].split("[")[0].lower(): p for p in pins.pins("runtime-tests", "layer")
    }
    return [config_pins[name] for name in names]


def _fingerprint() -> str:
    digest = hashlib.sha256((REPO_ROOT / "pyproject.toml").read_bytes())
    digest.update(Path(__file__).read_bytes())  # what goes where
    for path in sorted(LAYER_SOURCES.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(LAYER_SOURCES)).encode() + path.read_bytes())
    for name in MINI_RUNTIME_FILES:
        digest.update((BENCHMARKS_DIR / name).read_bytes())
    for path in sorted(FUNCTIONS_DIR.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _run(command: list[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        output = (done.stderr or done.stdout)[-400:]
        raise RuntimeError(f"{' '.join(command[:4])} ... failed: {output}")


def _pip_install(requirements: list[str], target: Path) -> None:
    arch = platform.machine()
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-warn-conflicts",
            "--no-compile",
            "--target",
            str(target),
            "--python-version",
            VERSION,
            "--implementation",
            "cp",
            "--abi",
            "cp" + VERSION.replace(".", ""),
            "--platform",
            f"manylinux_2_28_{arch}",
            "--platform",
            f"manylinux2014_{arch}",
            "--only-binary=:all:",
            *requirements,
        ]
    )


def _compile(directory: Path) -> None:
    _run(
        [
            str(INTERPRETER),
            "-m",
            "compileall",
            "-q",
            "-j0",
            "--invalidation-mode",
            "checked-hash",
            str(directory),
        ]
    )


def prepare() -> str | None:
    """Set the environments up if stale; None when ready, else why they cannot be."""
    if not INTERPRETER.exists():
        return f"no Python {VERSION}: run `make lambda-pythons`"
    stamp = ROOT / ".fingerprint"
    fingerprint = _fingerprint()
    if stamp.exists() and stamp.read_text() == fingerprint:
        return None
    print(f"setting up the python{VERSION} environments in {ROOT} (once)", file=sys.stderr)
    try:
        shutil.rmtree(ROOT, ignore_errors=True)
        runtime, task = ROOT / "runtime", ROOT / "task"
        _pip_install(_pins(RUNTIME_PACKAGES), runtime)
        for name in MINI_RUNTIME_FILES:
            shutil.copy(BENCHMARKS_DIR / name, runtime / name)
        shutil.copytree(FUNCTIONS_DIR, task, ignore=shutil.ignore_patterns("__pycache__"))
        _pip_install(_pins(POWERTOOLS_PACKAGES), ROOT / "powertools/python")
        for directory in (runtime, task, ROOT / "powertools/python"):
            _compile(directory)
        _run(
            [
                "make",
                "--no-print-directory",
                "-C",
                str(LAYER_SOURCES),
                "build-TracingLayer",
                f"ARTIFACTS_DIR={ROOT / 'layer'}",
                f"LAMBDA_ARCH={platform.machine()}",
            ],
            env={**os.environ, "MAKEFLAGS": ""},
        )
    except (RuntimeError, OSError) as error:
        return f"setting up python{VERSION} failed: {error}"
    stamp.write_text(fingerprint)
    return None


@dataclass(frozen=True)
class AsLambda(Variant):
    """A variant run on the runtime's Python with only what ships on the path."""

    layer: str = ""  # "", "powertools" or "ours"

    def unavailable_reason(self) -> str | None:
        return prepare()

    def command(self, mode: str, *args: str, python_options: tuple[str, ...] = ()) -> list[str]:
        runtime = [
            str(INTERPRETER),
            *python_options,
            str(ROOT / "runtime/mini_runtime.py"),
            mode,
            *args,
        ]
        if self.layer == "ours":
            return [str(ROOT / "layer/lambda-tracing"), *runtime]
        return runtime

    def environment(self, daemon_address: str, extra: dict[str, str]) -> dict[str, str]:
        env = lambda_environment(self.handler, daemon_address, {**self.env, **extra})
        path = [ROOT / "runtime"]
        if self.layer == "powertools":
            path.append(ROOT / "powertools/python")
        env.update(
            {
                "PYTHONPATH": os.pathsep.join(str(p) for p in path),
                "LAMBDA_TASK_ROOT": str(ROOT / "task"),
                "LAMBDA_RUNTIME_DIR": str(ROOT / "runtime"),
                "AWS_EXECUTION_ENV": f"AWS_Lambda_python{VERSION}",
                "PYTHONDONTWRITEBYTECODE": "1",
                "BENCH_MOTO": "0",  # not shipped: the Stubber row stands for the AWS call
                "BENCH_GC": "1",  # the collector runs, as on Lambda
            }
        )
        if self.layer == "ours":
            env["AWS_LAMBDA_EXEC_WRAPPER"] = str(ROOT / "layer/lambda-tracing")
        return env


AS_LAMBDA_VARIANTS = (
    AsLambda(BARE.key, BARE.label, env=BARE.env),
    AsLambda(POWERTOOLS.key, POWERTOOLS.label, env=POWERTOOLS.env, layer="powertools"),
    AsLambda(OURS.key, OURS.label, env=OURS.env, layer="ours"),
)
# The warm rows as Lambda runs them: our layer in both modes.
WARM_AS_LAMBDA_VARIANTS = (
    *AS_LAMBDA_VARIANTS,
    AsLambda(OURS_OTLP.key, OURS_OTLP.label, env=OURS_OTLP.env, layer="ours"),
)
