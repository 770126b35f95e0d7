"""Fixtures of the end-to-end tests: a local X-Ray and the fixture app's local Lambda."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e_support import FIXTURE_APP, FIXTURE_TEMPLATE, FIXTURE_VALUES
from lambda_tracing_local.runtime.local_lambda import LocalLambda
from lambda_tracing_local.xray import LocalXRay


@pytest.fixture
def xray() -> Iterator[LocalXRay]:
    with LocalXRay() as local_xray:
        yield local_xray


@pytest.fixture
def fixture_lambda(xray: LocalXRay) -> Iterator[LocalLambda]:
    """The fixture app's functions; AWS calls would go to a closed port (none are made)."""
    with LocalLambda(
        FIXTURE_TEMPLATE,
        FIXTURE_VALUES,
        "http://127.0.0.1:9",
        {"FixtureLayer": FIXTURE_APP / "layer"},
        xray_daemon=xray.udp_address,
        xray_api=xray.api_url,
    ) as local_lambda:
        yield local_lambda
