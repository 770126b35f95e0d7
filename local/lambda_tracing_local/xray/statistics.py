"""Service-graph statistics in botocore's shapes, computed from the calls of a node or edge.

Calls are gathered as the projections' entries (see graph.py) and summarised once per node
or edge at the end: appending is all the per-call work, which keeps 100,000 segments fast.
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Any

from .traces import OUTCOMES

OK, ERROR, THROTTLE, FAULT = (OUTCOMES.index(name) for name in ("ok", "error", "throttle", "fault"))
# Entry positions shared with graph.py: [id, start, end, outcome, ...]
START, END, OUTCOME = 1, 2, 3


def histogram(values: list[float]) -> list[dict[str, Any]]:
    """X-Ray's {Value, Count} list: one entry per distinct millisecond-rounded value."""
    # map() over C functions keeps the per-value work out of the interpreter loop.
    millis = Counter(map(round, map(operator.mul, values, repeat(1000.0))))
    return [{"Value": value / 1000, "Count": count} for value, count in millis.items()]


@dataclass
class CallStatistics:
    outcomes: Counter[int]
    durations: list[float]
    first: float
    last: float

    @classmethod
    def of(cls, calls: list[list[Any]]) -> CallStatistics:
        starts = list(map(itemgetter(START), calls))
        ends = list(map(itemgetter(END), calls))
        if None in ends:  # unfinished subsegments count as instant
            ends = [start if end is None else end for start, end in zip(starts, ends, strict=True)]
        durations = list(map(operator.sub, ends, starts))
        if durations and min(durations) < 0:  # clock skew: never report negative times
            durations = [max(0.0, duration) for duration in durations]
        outcomes = Counter(map(itemgetter(OUTCOME), calls))
        return cls(outcomes, durations, min(starts, default=math.inf), max(ends, default=-math.inf))

    @classmethod
    def merged(cls, parts: list[CallStatistics]) -> CallStatistics:
        outcomes: Counter[int] = Counter()
        durations: list[float] = []
        for part in parts:
            outcomes.update(part.outcomes)
            durations.extend(part.durations)
        return cls(
            outcomes,
            durations,
            min((p.first for p in parts), default=math.inf),
            max((p.last for p in parts), default=-math.inf),
        )

    def summary(self) -> dict[str, Any]:
        error, throttle, fault = self.outcomes[ERROR], self.outcomes[THROTTLE], self.outcomes[FAULT]
        return {
            "OkCount": self.outcomes[OK],
            "ErrorStatistics": {
                "ThrottleCount": throttle,
                "OtherCount": error,
                "TotalCount": error + throttle,
            },
            "FaultStatistics": {"OtherCount": fault, "TotalCount": fault},
            "TotalCount": sum(self.outcomes.values()),
            "TotalResponseTime": round(math.fsum(self.durations), 6),
        }


def clipped_span(stats: CallStatistics, window: tuple[float, float] | None) -> tuple[float, float]:
    """Whole seconds covering the calls, kept inside the requested window, as X-Ray reports."""
    start, end = math.floor(stats.first), math.ceil(stats.last)
    if window is not None:
        start, end = max(start, math.floor(window[0])), min(end, math.ceil(window[1]))
    return float(start), float(max(start, end))
