"""Durations such as --since 1h, 90m, 2d or 1h30m."""

from __future__ import annotations

import re
from datetime import timedelta

from lambda_tracing_local.cli.errors import CliError

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> timedelta:
    """'1h30m' -> 1.5 hours; a one-line CliError for anything else."""
    compact = text.strip().lower()
    parts = _PART.findall(compact)
    if not compact or "".join(number + unit for number, unit in parts) != compact:
        raise CliError(f"not a duration: {text!r} (use e.g. 30m, 1h, 6h, 2d or 1h30m)")
    total = timedelta()
    for number, unit in parts:
        total += timedelta(**{_UNITS[unit]: float(number)})
    if total <= timedelta(0):
        raise CliError(f"duration must be more than zero: {text!r}")
    return total
