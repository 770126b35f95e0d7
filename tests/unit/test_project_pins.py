"""Versions live in one place: pyproject.toml; the Lambda artefacts read theirs from it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import pins  # noqa: E402


def test_every_artefact_requirement_is_an_exact_pin() -> None:
    for artefact in ("layer", "service_map"):
        requirements = pins.pins("artefact", artefact)
        assert requirements
        assert all("==" in r for r in requirements), requirements


def test_tools_are_pinned() -> None:
    for tool in ("sam", "checkov"):
        assert all("==" in r for r in pins.pins("tool", tool))


def test_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(SystemExit, match="unknown kind"):
        pins.pins("nonsense", "layer")


def test_cli_prints_requirements() -> None:
    out = subprocess.run(
        [sys.executable, ROOT / "scripts/pins.py", "artefact", "layer"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert any(line.startswith("aws-xray-sdk==") for line in out)
