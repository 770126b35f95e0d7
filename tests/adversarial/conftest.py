"""Prints the adversarial suite's case count in pytest's header."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from harness import collect_cases  # noqa: E402


def pytest_report_header(config: pytest.Config) -> str:
    return f"adversarial cases: {len(collect_cases())}"
