"""lambda_tracing.logs: the trace id on log records, formats untouched."""

from __future__ import annotations

import io
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lambda_tracing import logs

HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def test_trace_id_from_header() -> None:
    assert logs.trace_id_from_header(HEADER) == "1-5759e988-bd862e3fe1be46a994272793"
    assert logs.trace_id_from_header("Parent=1;Root=1-a-b") == "1-a-b"
    assert logs.trace_id_from_header("") is None
    assert logs.trace_id_from_header("garbage") is None


@given(st.text(max_size=300))
def test_any_header_gives_a_short_id_or_none(header: str) -> None:
    found = logs.trace_id_from_header(header)
    assert found is None or (isinstance(found, str) and 0 < len(found) <= 64)


def test_child_logger_records_get_the_trace_id_through_root_handlers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    records: list[logging.LogRecord] = []
    handler.emit = records.append  # type: ignore[method-assign,assignment]
    root.addHandler(handler)
    try:
        logs.install()
        logs.install()  # idempotent
        assert sum(isinstance(f, logs.TraceIdFilter) for f in handler.filters) == 1
        monkeypatch.setenv("_X_AMZN_TRACE_ID", HEADER)
        logging.getLogger("app.child").warning("inside")
        monkeypatch.delenv("_X_AMZN_TRACE_ID")
        logging.getLogger("app.child").warning("outside")
    finally:
        logs.uninstall()
        root.removeHandler(handler)
    inside, outside = records
    assert inside.xray_trace_id == "1-5759e988-bd862e3fe1be46a994272793"  # type: ignore[attr-defined]
    assert not hasattr(outside, "xray_trace_id")
    assert handler.format(inside) == "WARNING inside"
    assert not any(isinstance(f, logs.TraceIdFilter) for f in root.filters)


def test_an_existing_trace_id_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", HEADER)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.xray_trace_id = "from-powertools"
    assert logs.TraceIdFilter().filter(record) is True
    assert record.xray_trace_id == "from-powertools"  # type: ignore[attr-defined]
