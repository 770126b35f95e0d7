"""Logs joined to traces: `xray_trace_id` on every log record emitted during an invocation.

The filter only adds an attribute; formats are untouched. Lambda's JSON log format prints extra
record attributes, so the id shows up there (and in Logs Insights) with no change by the user;
text formats can use %(xray_trace_id)s. Powertools Logger already adds its own, which we keep.
"""

from __future__ import annotations

import logging
import os

TRACE_HEADER_VARIABLE = "_X_AMZN_TRACE_ID"


def trace_id_from_header(header: str | None) -> str | None:
    """The Root of an X-Ray trace header, or None."""
    if not header:
        return None
    start = header.find("Root=")
    if start < 0:
        return None
    end = header.find(";", start)
    root = header[start + 5 : end if end >= 0 else None].strip()
    return root[:64] or None


class TraceIdFilter(logging.Filter):
    """Adds `xray_trace_id` (Lambda's current trace) to records; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "xray_trace_id", None) is None:
            trace_id = trace_id_from_header(os.environ.get(TRACE_HEADER_VARIABLE))
            if trace_id is not None:
                record.xray_trace_id = trace_id
        return True


def install(logger: logging.Logger | None = None) -> TraceIdFilter:
    """Put one TraceIdFilter on the root logger and on its handlers (a logger's own filters do
    not see records propagated from child loggers; its handlers' filters do). Idempotent."""
    logger = logger or logging.getLogger()
    existing = next((f for f in logger.filters if isinstance(f, TraceIdFilter)), None)
    trace_filter = existing or TraceIdFilter()
    for target in (logger, *logger.handlers):
        if not any(isinstance(f, TraceIdFilter) for f in target.filters):
            target.addFilter(trace_filter)
    return trace_filter


def uninstall(logger: logging.Logger | None = None) -> None:
    logger = logger or logging.getLogger()
    for target in (logger, *logger.handlers):
        for f in [f for f in target.filters if isinstance(f, TraceIdFilter)]:
            target.removeFilter(f)
