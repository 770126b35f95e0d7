"""GetServiceGraph pages as they come from boto3 or from `aws xray get-service-graph`."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from service_map.errors import InputError


def load_pages(obj: Any) -> list[dict]:
    """Return the GetServiceGraph pages in ``obj``, checked, or raise ``InputError``.

    ``obj`` is what ``aws xray get-service-graph`` prints, as JSON text (str or bytes) or
    already parsed: one response page (an object with ``Services``) or a list of pages.
    Pages with the same StartTime and EndTime are pages of one response (they share its
    ReferenceIds); pages with other windows are further chunks to merge. Every page is
    checked as ``summarise`` would (shape, counts, histograms, references), so a bad file
    fails here with a one-line message naming the problem.
    """
    from service_map.merge import merge_pages  # the merge pass is the checker

    if isinstance(obj, bytes | bytearray):
        try:
            obj = obj.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InputError(f"input is not UTF-8 text: {error.reason}") from None
    if isinstance(obj, str):
        try:
            obj = json.loads(obj)
        except json.JSONDecodeError as error:
            raise InputError(
                f"input is not JSON: {error.msg} at line {error.lineno} column {error.colno}"
            ) from None
    if isinstance(obj, dict):
        pages = [obj]
    elif isinstance(obj, list):
        pages = obj
    else:
        raise InputError(
            f"input is a JSON {type(obj).__name__}, expected a GetServiceGraph response "
            "object or a list of them"
        )
    if not pages:
        raise InputError("input is an empty list: no GetServiceGraph pages")
    merge_pages(pages)
    return pages


def to_epoch(value: Any, where: str) -> float:
    """Seconds since the epoch from a boto3 datetime, an epoch number or an ISO 8601 string."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        if math.isfinite(value):
            return float(value)
    elif isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return to_epoch(parsed, where)
    raise InputError(f"{where}: {value!r} is not a time (epoch seconds or ISO 8601)")


def iso(epoch: float) -> str:
    """ISO 8601 UTC with a Z, whole seconds unless the time has a fraction."""
    moment = datetime.fromtimestamp(epoch, UTC)
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")
