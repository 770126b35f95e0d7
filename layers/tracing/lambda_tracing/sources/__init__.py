"""Inbound trace context: one module per event source, and `classify` to pick the module.

Each source module has `NAME`, `matches(event)` (dict checks only), `records(event)` (the
event's records: its `Records` list, or the event itself for single-event sources) and
`link(record)`, which reads the record's trace header and identity with `sources.fields`. Only
the module that fits the event is imported, and only the records whose links are recorded are
read: a 10,000-record batch costs the layer MAX_LINKS look-ups.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from lambda_tracing.sources import fields
from lambda_tracing.sources.links import MAX_LINKS, Link, record_on

log = logging.getLogger(__name__)

# Batch sources by the first record's eventSource.
_BY_RECORD_SOURCE = {
    "aws:sqs": "sqs",
    "aws:sns": "sns",
    "aws:kinesis": "kinesis",
    "aws:dynamodb": "dynamodb",
    "aws:s3": "s3",
}
# Single-event sources, most specific first: ALB and function URLs also look like API Gateway.
_SINGLE_EVENT_SOURCES = (
    "eventbridge",
    "alb",
    "function_url",
    "api_gateway_http",
    "api_gateway_rest",
)


class Inbound:
    """An invocation's input: its event source and its records, each with its link (read
    when asked)."""

    __slots__ = ("source", "_module", "_records")

    def __init__(self, module: ModuleType, records: list[Any]) -> None:
        self.source: str = module.NAME
        self._module = module
        self._records = records

    @property
    def count(self) -> int:
        return len(self._records)

    @property
    def records(self) -> Iterator[tuple[Any, Link]]:
        """Every record with its link, in order, each link read as the record is reached."""
        link = self._module.link
        for record in self._records:
            yield record, link(record)

    @property
    def links(self) -> tuple[Link, ...]:
        """The links of the first MAX_LINKS records (all a span can carry)."""
        link = self._module.link
        return tuple(link(record) for record in self._records[:MAX_LINKS])


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{name}")


def classify(event: object) -> ModuleType | None:
    """The source module whose events look like `event`, or None."""
    if type(event) is not dict:
        return None
    if "Records" in event:
        name = _BY_RECORD_SOURCE.get(fields.first_record_source(event) or "")
        return _module(name) if name else None
    for name in _SINGLE_EVENT_SOURCES:
        module = _module(name)
        if module.matches(event):
            return module
    return None


def inbound(event: object) -> Inbound | None:
    """The event's source and records, or None for unknown or malformed events."""
    try:
        module = classify(event)
        return None if module is None else Inbound(module, module.records(event))
    except Exception:
        log.debug("event source not recognised", exc_info=True)
        return None


def record_inbound(span: Any, event: object) -> Inbound | None:
    """Record the event's source and links on `span` (e.g. the handler subsegment); never raises."""
    found = inbound(event)
    if found is not None:
        try:
            record_on(span, found.links, found.source, found.count)
        except Exception:
            log.debug("links not recorded", exc_info=True)
    return found


__all__ = ["Inbound", "Link", "classify", "inbound", "record_inbound"]
