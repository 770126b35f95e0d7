"""Fixtures every test area shares. Area-specific fixtures live beside their tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
XRAY_FIXTURES = FIXTURES / "xray"


def load_xray_fixture(name: str) -> Any:
    """One of the files copied from ../shared/xray (see fixtures/xray/ORIGIN.md)."""
    return json.loads((XRAY_FIXTURES / name).read_text())


@pytest.fixture(scope="session")
def segment_schema() -> dict[str, Any]:
    """AWS's segment-document JSON schema (draft-04)."""
    return load_xray_fixture("segment-document-schema-v1.0.0.json")


@pytest.fixture(scope="session")
def segment_validator(segment_schema: dict[str, Any]) -> Any:
    import jsonschema

    return jsonschema.Draft4Validator(segment_schema)
