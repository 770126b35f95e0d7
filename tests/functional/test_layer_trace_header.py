"""Hypothesis fuzzing of trace-header handling with the real SDK context: any
`_X_AMZN_TRACE_ID` gives either a trace with well-formed ids or no trace, never an exception,
and the traced handler's result is always the bare handler's."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import lambda_tracing
import pytest
from aws_xray_sdk.core.models.trace_header import TraceHeader
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lambda_tracing import config
from lambda_tracing.backend import reset_backend
from lambda_tracing.backend.context import parse_header, valid_ids
from lambda_tracing.backend.entities import Facade
from lambda_tracing.backend.xray import XRayBackend

HEX = "0123456789abcdef"
roots = st.builds(
    lambda a, b: f"1-{a}-{b}",
    st.text(HEX, min_size=8, max_size=8),
    st.text(HEX, min_size=24, max_size=24),
)
parents = st.text(HEX, min_size=16, max_size=16)
fields = st.one_of(
    roots.map(lambda r: f"Root={r}"),
    parents.map(lambda p: f"Parent={p}"),
    st.sampled_from(
        [
            "Sampled=1",
            "Sampled=0",
            "Sampled=?",
            "Sampled=",
            "Lineage=a:1",
            "Self=1-00000000-000000000000000000000000",
            "=",
            "",
            ";",
        ]
    ),
    st.text(max_size=30),
)
headers = st.one_of(st.text(max_size=200), st.lists(fields, max_size=6).map(";".join))


@pytest.fixture(scope="module")
def backend() -> Iterator[XRayBackend]:
    from lambda_tracing.testing import CapturingEmitter

    backend = XRayBackend(config.load({}, enabled=True))
    backend.emitter = CapturingEmitter()
    previous = reset_backend(backend)
    yield backend
    reset_backend(previous)


def echo(event: Any, context: Any) -> Any:
    return event


traced_echo = lambda_tracing.trace_handler(echo)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(headers)
@example("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
@example("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
@example("\x00Root=\ud800")
def test_any_header_traces_validly_or_not_at_all(backend: XRayBackend, header: str) -> None:
    emitter = backend.emitter
    emitter.documents.clear()
    if "\x00" in header or any(0xD800 <= ord(c) <= 0xDFFF for c in header):
        return  # not representable in a process environment
    os.environ["_X_AMZN_TRACE_ID"] = header
    try:
        event = {"header": header}
        assert traced_echo(event, None) is event
        span = backend.begin_subsegment("probe")
        outbound = backend.trace_header()
        backend.end_subsegment(span)
    finally:
        del os.environ["_X_AMZN_TRACE_ID"]
    for document in emitter.documents:
        assert valid_ids(document["trace_id"], document["parent_id"])
        assert len(document["trace_id"]) == 35
    if span is not None:
        assert outbound is not None and outbound.endswith("Sampled=1")
        assert "Sampled=1" in header
    if outbound is not None:
        assert outbound.startswith("Root=1-") and len(outbound) < 80


extra_fields = st.lists(
    st.tuples(st.sampled_from(["Lineage", "Self", "Foo", "x"]), st.text("abc:019=", max_size=12)),
    max_size=3,
)


@settings(max_examples=200, deadline=None)
@given(roots, parents, st.sampled_from(["0", "1"]), extra_fields)
def test_fast_parse_agrees_with_the_sdk_parser(
    root: str, parent: str, sampled: str, extra: list[tuple[str, str]]
) -> None:
    header = f"Root={root};Parent={parent};Sampled={sampled}" + "".join(
        f";{key}={value}" for key, value in extra
    )
    parsed, sdk = parse_header(header), TraceHeader.from_header_str(header)
    assert parsed is not None
    origin = Facade(*parsed).get_origin_trace_header()  # what propagation sends on
    assert (origin.root, origin.parent, origin.sampled, origin.data) == (
        sdk.root,
        sdk.parent,
        sdk.sampled,
        sdk.data,
    )
