"""Build the template's layers: each becomes a directory standing in for /opt.

When the project has the Python the functions' Runtime names (interpreters.py), a layer is
built as `sam build` builds it for that version and this machine's architecture, bytecode
included, and left read-only; otherwise it is built for this machine's Python (HOST=1).
A build is reused while the layer's sources and the project's pins are unchanged (a content
hash is kept beside it), so repeated `local invoke` and `demo` runs skip the pip install.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lambda_tracing_local.runtime import template as tpl
from lambda_tracing_local.runtime.interpreters import BUILT_FOR, layer_version

STAMP = ".lambda-tracing-source-hash"


class LayerBuildError(RuntimeError):
    pass


def build_layers(template: Mapping[str, Any], template_dir: Path, out_dir: Path) -> dict[str, Path]:
    """Run each layer's makefile target `build-<Id>` with HOST=1 into out_dir/<Id>."""
    built = {}
    out_dir = out_dir.resolve()  # make runs in the layer's directory
    functions = tpl.functions(template, template_dir)
    version = layer_version({spec.runtime for spec in functions.values()})
    for logical_id, content_dir in tpl.layer_dirs(template, template_dir).items():
        if not (content_dir / "Makefile").exists():
            raise LayerBuildError(f"{logical_id}: {content_dir} has no Makefile to build it with")
        target = out_dir / logical_id
        digest = _source_hash(content_dir, template_dir / "pyproject.toml") + (version or "host")
        stamp = target / STAMP
        if not (stamp.exists() and stamp.read_text() == digest):
            _writable(target)
            _build(logical_id, content_dir, target, version)
            stamp.write_text(digest)
            if version:
                (target / BUILT_FOR).write_text(version)
                _read_only(target)
        built[logical_id] = target
    return built


def _build(logical_id: str, content_dir: Path, target: Path, version: str | None) -> None:
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    command = [
        "make",
        "--no-print-directory",
        "-C",
        str(content_dir),
        f"build-{logical_id}",
        f"ARTIFACTS_DIR={target}",
    ]
    if version:
        command += [f"LAMBDA_PYTHON={version}", f"LAMBDA_ARCH={platform.machine()}"]
    else:
        command.append("HOST=1")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        raise LayerBuildError(
            f"building {logical_id} failed ({' '.join(command)}):\n{done.stdout}{done.stderr}"
        )


def _read_only(root: Path) -> None:
    """As /opt is on Lambda (what runs there also gets PYTHONDONTWRITEBYTECODE=1, since root
    ignores file modes)."""
    for path in [*root.rglob("*"), root]:
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode):
            path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _writable(root: Path) -> None:
    """Undo _read_only before a rebuild removes the directory."""
    if root.exists():
        for directory, _, _ in os.walk(root):
            Path(directory).chmod(0o755)


def _source_hash(content_dir: Path, pins: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(
        p for p in content_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )
    if pins.exists():
        files.append(pins)
    for path in files:
        digest.update(str(path.relative_to(path.anchor)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()
