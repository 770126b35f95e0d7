"""The user's import under the layer costs no fresh frame-stack memory per nested module.

CPython (3.11+) maps a chunk of frame stack when a call does not fit in the current one and
unmaps it when that call returns, so code whose depth crosses a chunk's end again and again
pays for new pages every time (startup.import_with_room). The function here imports many
modules that each recurse deep enough to cross a chunk's end, and counts its own minor page
faults while doing so: run as Lambda would without the layer, every module pays for fresh
pages; through the layer's wrapper the import runs in a chunk with room for it, and the pages
are paid for once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from layer_support import DRIVER, build_layer, run_through_wrapper

MODULES = 150
# Deeper than one 16 KiB chunk holds (a frame of `down` takes some 80-100 bytes).
DEPTH = 400

APP = textwrap.dedent(
    f"""
    import importlib
    import resource

    _before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _index in range({MODULES}):
        importlib.import_module(f"deep_app_leaf_{{_index}}")
    FAULTS = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - _before


    def handler(event, context):
        return FAULTS
    """
)

LEAF = textwrap.dedent(
    f"""
    def down(n):
        return down(n - 1) if n else 0


    down({DEPTH})
    """
)


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("lambda")
    wrapper = build_layer(root / "opt")
    task = root / "task"
    task.mkdir()
    (task / "deep_app.py").write_text(APP)
    for index in range(MODULES):
        (task / f"deep_app_leaf_{index}.py").write_text(LEAF)
    return wrapper, task


def _faults_without_layer(task: Path) -> int:
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(task),
        "PYTHONDONTWRITEBYTECODE": "1",
        "_HANDLER": "deep_app.handler",
    }
    completed = subprocess.run(
        [sys.executable, str(DRIVER), json.dumps([{"event": {}}])],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(completed.stdout.splitlines()[-1])
    return int(report["results"][0]["return"])


def _faults_with_layer(wrapper: Path, task: Path) -> int:
    report = run_through_wrapper(
        wrapper, task, "deep_app.handler", {"PYTHONDONTWRITEBYTECODE": "1"}, [{"event": {}}]
    )
    return int(report["results"][0]["return"])


@pytest.mark.skipif(
    sys.implementation.name != "cpython", reason="CPython's frame stack is what this is about"
)
def test_the_users_import_pays_for_frame_stack_pages_once(layer: tuple[Path, Path]) -> None:
    wrapper, task = layer
    without_layer = _faults_without_layer(task)
    with_layer = _faults_with_layer(wrapper, task)
    # Without room, each module maps at least one fresh chunk and touches its pages.
    assert without_layer >= 2 * MODULES, without_layer
    assert with_layer < without_layer / 2, (with_layer, without_layer)
