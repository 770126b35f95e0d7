"""Health (ok / degraded / failing) and regression thresholds, Kiali's defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

OK, DEGRADED, FAILING = "ok", "degraded", "failing"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Percentages of requests. A rate breaches a threshold when it is above 0 and at or over
    it, so a threshold of 0 means "any" (Kiali's rule: faults > 0% degraded, >= 10% failing;
    errors, 4xx including throttles, >= 10% degraded, >= 20% failing)."""

    fault_degraded_pct: float = 0.0
    fault_failing_pct: float = 10.0
    error_degraded_pct: float = 10.0
    error_failing_pct: float = 20.0
    # A regression against the previous window: p99 up by this percentage and by at least
    # this many ms (so 1 ms -> 2 ms is not news), or fault rate up by this many points.
    regression_p99_pct: float = 50.0
    regression_p99_min_ms: float = 10.0
    regression_fault_rate_pts: float = 1.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Thresholds:
        """Read HEALTH_FAULT_DEGRADED_PCT, ..., REGRESSION_FAULT_RATE_PTS (field names, upper
        case, HEALTH_ prefix for the health ones); unset or blank means the default."""
        values = {}
        for spec in fields(cls):
            name = spec.name.upper()
            if not name.startswith("REGRESSION_"):
                name = "HEALTH_" + name
            raw = environ.get(name, "").strip()
            if raw:
                try:
                    values[spec.name] = float(raw)
                except ValueError:
                    raise ValueError(f"{name}={raw!r} is not a number") from None
        return cls(**values)


def health(statistics: dict | None, thresholds: Thresholds) -> str | None:
    """ok, degraded or failing from a statistics object; None when there are no statistics."""
    if statistics is None:
        return None
    fault_pct = statistics["fault_rate"] * 100
    error_pct = (statistics["error_rate"] + statistics["throttle_rate"]) * 100
    if _breaches(fault_pct, thresholds.fault_failing_pct) or _breaches(
        error_pct, thresholds.error_failing_pct
    ):
        return FAILING
    if _breaches(fault_pct, thresholds.fault_degraded_pct) or _breaches(
        error_pct, thresholds.error_degraded_pct
    ):
        return DEGRADED
    return OK


def _breaches(pct: float, threshold: float) -> bool:
    return pct > 0 and pct >= threshold
