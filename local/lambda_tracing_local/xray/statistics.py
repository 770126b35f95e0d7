"""Running statistics for service-graph nodes and edges, in botocore's shapes."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .traces import classify


def histogram(counter: Counter[float]) -> list[dict[str, Any]]:
    """X-Ray's {Value, Count} list: one entry per distinct millisecond-rounded value."""
    return [{"Value": value, "Count": count} for value, count in counter.items()]


@dataclass
class Statistics:
    ok: int = 0
    error: int = 0
    throttle: int = 0
    fault: int = 0
    total_response_time: float = 0.0
    response_times: Counter[float] = field(default_factory=Counter)
    first: float = math.inf
    last: float = -math.inf

    def add(self, element: dict[str, Any]) -> float:
        """Count one call; returns its duration in seconds."""
        start = element["start_time"]
        end = element.get("end_time", start)
        duration = max(0.0, end - start)
        outcome = classify(element)
        if outcome == "ok":
            self.ok += 1
        elif outcome == "error":
            self.error += 1
        elif outcome == "throttle":
            self.throttle += 1
        else:
            self.fault += 1
        self.total_response_time += duration
        self.response_times[round(duration, 3)] += 1
        self.first = min(self.first, start)
        self.last = max(self.last, end)
        return duration

    @property
    def total(self) -> int:
        return self.ok + self.error + self.throttle + self.fault

    def summary(self) -> dict[str, Any]:
        return {
            "OkCount": self.ok,
            "ErrorStatistics": {
                "ThrottleCount": self.throttle,
                "OtherCount": self.error,
                "TotalCount": self.error + self.throttle,
            },
            "FaultStatistics": {"OtherCount": self.fault, "TotalCount": self.fault},
            "TotalCount": self.total,
            "TotalResponseTime": round(self.total_response_time, 6),
        }


def clipped_span(stats: Statistics, window: tuple[float, float] | None) -> tuple[float, float]:
    """Whole seconds covering the calls, kept inside the requested window, as X-Ray reports."""
    start, end = math.floor(stats.first), math.ceil(stats.last)
    if window is not None:
        start, end = max(start, math.floor(window[0])), min(end, math.ceil(window[1]))
    return float(start), float(max(start, end))
