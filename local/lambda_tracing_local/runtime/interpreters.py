"""Which Python runs a function locally: the one its `Runtime` names, when the project has it.

`make test` and `make demo` set up `.venv-py3.13` (Debian's CPython 3.13 with wheels for it, see
scripts/lambda-python.sh); a function on python3.13 then runs under it, with the layer built for
that version as `sam build` builds it (its bytecode included) and nothing compiled written, as
on Lambda's read-only /opt. Without it, or with LAMBDA_TRACING_LOCAL_PYTHON=host, functions run
on this machine's Python with the layer built for it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
# Written into a layer built for a runtime's Python: which version its wheels and bytecode are for.
BUILT_FOR = ".lambda-tracing-python"


def version_of(runtime: str) -> str | None:
    """ "python3.13" -> "3.13"; None for anything else."""
    version = runtime.removeprefix("python")
    return version if runtime.startswith("python") and version[:2] == "3." else None


def interpreter(runtime: str) -> Path | None:
    """The project's interpreter for a Lambda runtime, or None to run on this machine's."""
    version = version_of(runtime)
    if version is None or os.environ.get("LAMBDA_TRACING_LOCAL_PYTHON") == "host":
        return None
    candidate = PROJECT_ROOT / f".venv-py{version}" / "bin" / "python"
    return candidate if candidate.exists() else None


def layer_version(runtimes: set[str]) -> str | None:
    """The one version to build layers for: every function's runtime, if the project has it."""
    versions = {version_of(r) for r in runtimes}
    if len(versions) != 1:
        return None
    (runtime,) = runtimes
    return version_of(runtime) if interpreter(runtime) else None


def python_for(runtime: str, layer_dirs: list[Path]) -> str:
    """The runtime's Python when every layer of the function was built for it, else ours."""
    chosen = interpreter(runtime)
    version = version_of(runtime)
    built_for = [
        (d / BUILT_FOR).read_text().strip() if (d / BUILT_FOR).exists() else None
        for d in layer_dirs
    ]
    if chosen is None or any(v != version for v in built_for):
        return sys.executable
    return str(chosen)
