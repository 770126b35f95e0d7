"""Inbound trace context: one module per event source, and `classify` to pick the module.

Each source module has `NAME`, `matches(event)` (cheap dict checks, no parsing) and
`record_links(event)`, which parses with Powertools' event source data classes and yields each
record (the event itself for HTTP sources) with its `Link`.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from lambda_tracing.sources.links import Link, record_on

log = logging.getLogger(__name__)

# Most specific first: ALB and function URLs would also look like API Gateway events.
_SOURCE_MODULES = (
    "sqs",
    "sns",
    "kinesis",
    "dynamodb",
    "s3",
    "eventbridge",
    "alb",
    "function_url",
    "api_gateway_http",
    "api_gateway_rest",
)


@dataclass(frozen=True)
class Inbound:
    """An invocation's input: its event source and every record with the record's link."""

    source: str
    records: tuple[tuple[Mapping[str, Any], Link], ...]

    @property
    def links(self) -> tuple[Link, ...]:
        return tuple(link for _, link in self.records)


def classify(event: object) -> ModuleType | None:
    """The source module whose events look like `event`, or None."""
    if not isinstance(event, Mapping):
        return None
    for name in _SOURCE_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        if module.matches(event):
            return module
    return None


def inbound(event: object) -> Inbound | None:
    """The event's source and per-record links, or None for unknown or malformed events."""
    try:
        module = classify(event)
        if module is None:
            return None
        assert isinstance(event, Mapping)
        return Inbound(module.NAME, tuple(module.record_links(event)))
    except Exception:
        log.debug("event source not recognised", exc_info=True)
        return None


def record_inbound(span: Any, event: object) -> Inbound | None:
    """Record the event's source and links on `span` (e.g. the handler subsegment); never raises."""
    found = inbound(event)
    if found is not None:
        try:
            record_on(span, found.links, found.source)
        except Exception:
            log.debug("links not recorded", exc_info=True)
    return found


__all__ = ["Inbound", "Link", "classify", "inbound", "record_inbound"]
