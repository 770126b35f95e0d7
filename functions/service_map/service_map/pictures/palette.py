"""Status colours, as in the X-Ray console: green ok, yellow error, purple throttle, red fault."""

from __future__ import annotations

from typing import Any

OK = "#3a9d4a"
ERROR = "#e0b000"
THROTTLE = "#8b4fc4"
FAULT = "#d13a32"
NEUTRAL = "#8a94a3"

STATUS_COLOURS = {"ok": OK, "error": ERROR, "throttle": THROTTLE, "fault": FAULT, "none": NEUTRAL}
LEGEND = (("ok", OK), ("error (4xx)", ERROR), ("throttle (429)", THROTTLE), ("fault (5xx)", FAULT))


def worst_status(statistics: dict[str, Any] | None) -> str:
    """The most serious kind of failure present: fault, throttle, error; 'ok'; 'none' if no data."""
    if not statistics or not statistics.get("requests"):
        return "none"
    if statistics.get("faults"):
        return "fault"
    if statistics.get("throttles"):
        return "throttle"
    if statistics.get("errors"):
        return "error"
    return "ok"


def status_shares(statistics: dict[str, Any] | None) -> list[tuple[str, float]]:
    """Fractions of requests that were ok/error/throttle/fault, for the node health bar."""
    if not statistics or not statistics.get("requests"):
        return []
    total = float(statistics["requests"])
    counts = (
        ("ok", statistics.get("ok") or 0),
        ("error", statistics.get("errors") or 0),
        ("throttle", statistics.get("throttles") or 0),
        ("fault", statistics.get("faults") or 0),
    )
    return [(name, count / total) for name, count in counts if count]


# Lighter fills for flame-graph bars, so their dark labels stay readable.
TINTS = {"ok": "#8fd19b", "error": "#f5d768", "throttle": "#c2a2e6", "fault": "#f08a83"}
