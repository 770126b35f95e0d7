"""pytest plugin: assert on the traces your handler produces, in-process, no daemon needed.

Enable it with `-p lambda_tracing.testing` (or `pytest_plugins = ["lambda_tracing.testing"]`
in your conftest.py), then:

    def test_handler_is_traced(lambda_tracing_capture):
        handler({"x": 1}, None)
        (sub,) = lambda_tracing_capture.subsegments("## handler")
        assert sub["annotations"]["ColdStart"] is True

Each test gets a fresh backend whose emitter keeps documents in memory (exactly what would be
sent, after the same size limiting), a fresh sampled `_X_AMZN_TRACE_ID`, and a cold start.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from lambda_tracing.documents import fit

TRACE_HEADER_VARIABLE = "_X_AMZN_TRACE_ID"


class CapturingEmitter:
    """Emitter (aws-xray-sdk's send_entity interface) that keeps documents in memory."""

    def __init__(self) -> None:
        self.documents: list[dict[str, Any]] = []

    def send_entity(self, entity: Any) -> None:
        for text in fit(entity.to_dict()):
            self.documents.append(json.loads(text))

    def set_daemon_address(self, address: Any) -> None:
        return None


class CapturedTraces:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, emitter: CapturingEmitter) -> None:
        self._monkeypatch = monkeypatch
        self.emitter = emitter
        self.trace_id = ""

    @property
    def documents(self) -> list[dict[str, Any]]:
        """Every document sent, in order (top-level subsegments with their children)."""
        return self.emitter.documents

    def new_trace(self, sampled: bool = True) -> str:
        """Start a new invocation's trace, as Lambda does by setting _X_AMZN_TRACE_ID."""
        self.trace_id = f"1-{os.urandom(4).hex()}-{os.urandom(12).hex()}"
        header = f"Root={self.trace_id};Parent={os.urandom(8).hex()};Sampled={int(sampled)}"
        self._monkeypatch.setenv(TRACE_HEADER_VARIABLE, header)
        return header

    def subsegments(self, name: str | None = None) -> list[dict[str, Any]]:
        """All subsegments sent (nested ones included), optionally only those named `name`."""
        found: list[dict[str, Any]] = []
        pending = list(self.documents)
        while pending:
            node = pending.pop(0)
            if name is None or node.get("name") == name:
                found.append(node)
            pending.extend(node.get("subsegments", []))
        return found

    def annotations(self, name: str) -> dict[str, Any]:
        """Annotations of the (last) subsegment named `name`."""
        matches = self.subsegments(name)
        if not matches:
            raise AssertionError(f"no subsegment named {name!r} in {self.names()}")
        return dict(matches[-1].get("annotations", {}))

    def names(self) -> list[str]:
        return [node.get("name", "") for node in self.subsegments()]

    def clear(self) -> None:
        self.documents.clear()


@pytest.fixture
def lambda_tracing_capture(monkeypatch: pytest.MonkeyPatch) -> Iterator[CapturedTraces]:
    """Capture what lambda_tracing emits during the test (see module docstring)."""
    from lambda_tracing import coldstart, config
    from lambda_tracing.backend import reset_backend
    from lambda_tracing.backend.xray import XRayBackend

    emitter = CapturingEmitter()
    backend = XRayBackend(config.load(enabled=True))
    backend.emitter = emitter
    previous = reset_backend(backend)
    pending_cold = coldstart.cold_start._pending
    coldstart.cold_start._pending = True
    traces = CapturedTraces(monkeypatch, emitter)
    traces.new_trace()
    try:
        yield traces
    finally:
        reset_backend(previous)
        coldstart.cold_start._pending = pending_cold
