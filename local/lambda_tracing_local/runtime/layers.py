"""Build the template's layers for this machine: each becomes a directory standing in for /opt."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lambda_tracing_local.runtime import template as tpl


class LayerBuildError(RuntimeError):
    pass


def build_layers(template: Mapping[str, Any], template_dir: Path, out_dir: Path) -> dict[str, Path]:
    """Run each makefile-built layer's `build-<Id>` target with HOST=1 into out_dir/<Id>."""
    built = {}
    for logical_id, content_dir in tpl.layer_dirs(template, template_dir).items():
        target = out_dir / logical_id
        target.mkdir(parents=True, exist_ok=True)
        if not (content_dir / "Makefile").exists():
            raise LayerBuildError(f"{logical_id}: {content_dir} has no Makefile to build it with")
        command = [
            "make", "--no-print-directory", "-C", str(content_dir), f"build-{logical_id}",
            f"ARTIFACTS_DIR={target}", "HOST=1",
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise LayerBuildError(
                f"building {logical_id} failed ({' '.join(command)}):\n{done.stdout}{done.stderr}"
            )
        built[logical_id] = target
    return built
