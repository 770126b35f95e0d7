"""Build the template's layers for this machine: each becomes a directory standing in for /opt.

A build is reused while the layer's sources and the project's pins are unchanged (a content
hash is kept beside it), so repeated `local invoke` and `demo` runs skip the pip install.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lambda_tracing_local.runtime import template as tpl

STAMP = ".lambda-tracing-source-hash"


class LayerBuildError(RuntimeError):
    pass


def build_layers(template: Mapping[str, Any], template_dir: Path, out_dir: Path) -> dict[str, Path]:
    """Run each layer's makefile target `build-<Id>` with HOST=1 into out_dir/<Id>."""
    built = {}
    out_dir = out_dir.resolve()  # make runs in the layer's directory
    for logical_id, content_dir in tpl.layer_dirs(template, template_dir).items():
        if not (content_dir / "Makefile").exists():
            raise LayerBuildError(f"{logical_id}: {content_dir} has no Makefile to build it with")
        target = out_dir / logical_id
        digest = _source_hash(content_dir, template_dir / "pyproject.toml")
        stamp = target / STAMP
        if not (stamp.exists() and stamp.read_text() == digest):
            _build(logical_id, content_dir, target)
            stamp.write_text(digest)
        built[logical_id] = target
    return built


def _build(logical_id: str, content_dir: Path, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    command = [
        "make", "--no-print-directory", "-C", str(content_dir), f"build-{logical_id}",
        f"ARTIFACTS_DIR={target}", "HOST=1",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        raise LayerBuildError(
            f"building {logical_id} failed ({' '.join(command)}):\n{done.stdout}{done.stderr}"
        )


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
