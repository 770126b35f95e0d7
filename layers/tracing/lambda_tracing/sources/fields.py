"""The few fields the layer reads from an event, read straight from the event's dicts.

Events arrive as plain JSON (dicts, lists, strings), so a field is a walk through `dict`s by
exact type: nothing here calls a method an event's objects could override, and nothing is
imported (Powertools' event classes cost most of Powertools on the first event).
"""

from __future__ import annotations

from typing import Any

from lambda_tracing.propagation.header import XRAY_HEADER

_MAX_HEADERS_SCANNED = 200  # a case-insensitive look-up stops here: huge header maps stay cheap


def text(value: Any, *path: str) -> str | None:
    """The non-empty string at `path` inside nested dicts, or None."""
    for key in path:
        if type(value) is not dict:
            return None
        value = value.get(key)
    return value if type(value) is str and value else None


def child(value: Any, key: str) -> dict[str, Any]:
    """The dict at `value[key]`, or an empty one."""
    found = value.get(key) if type(value) is dict else None
    return found if type(found) is dict else {}


def batch(event: Any) -> list[Any]:
    """The event's `Records` list, or an empty one."""
    found = event.get("Records") if type(event) is dict else None
    return found if type(found) is list else []


def first_record_source(event: Any) -> str | None:
    """`eventSource` (SNS: `EventSource`) of the first record of a batch, if any."""
    records = batch(event)
    if not records:
        return None
    return text(records[0], "eventSource") or text(records[0], "EventSource")


def _header(headers: Any, name: str) -> Any:
    if type(headers) is not dict:
        return None
    found = headers.get(name)
    if found is None:
        found = headers.get(name.lower())
    if found is None:
        for count, (key, value) in enumerate(headers.items()):
            if count >= _MAX_HEADERS_SCANNED:
                break
            if type(key) is str and key.lower() == name.lower():
                return value
    return found


def trace_header(event: Any) -> str | None:
    """The request's X-Amzn-Trace-Id, case-insensitive, from `headers` or (REST, ALB)
    `multiValueHeaders` (its last value)."""
    if type(event) is not dict:
        return None
    value = _header(event.get("headers"), XRAY_HEADER)
    if value is None:
        values = _header(event.get("multiValueHeaders"), XRAY_HEADER)
        value = values[-1] if type(values) is list and values else None
    return value if type(value) is str else None
