"""Service-graph statistics in botocore's shapes, computed from the calls of a node or edge.

Calls are gathered as the projections' entries (see graph.py) and summarised once per node
or edge at the end: appending is all the per-call work, which keeps 100,000 segments fast.
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from .documents import LATEST_TIME, InvalidDocument
from .traces import ERROR, FAULT, OK, THROTTLE

# Entry positions shared with graph.py: [id, start, end, outcome, ..., stop, duration, millis]
# where stop is the end (the start while unfinished: unfinished calls count as instant),
# duration is stop - start (never negative: clock skew) and millis that rounded to whole ms.
START, END, OUTCOME, STOP, DURATION, MILLIS = 1, 2, 3, 7, 8, 9
_FIGURES = operator.itemgetter(START, OUTCOME, STOP, DURATION, MILLIS)


def timing(start: float, end: float | None) -> tuple[float, float, int]:
    """(stop, duration, millis) of a call, computed once at ingest."""
    stop = start if end is None else end
    duration = stop - start
    # Documents are checked for this at ingest (documents.py); rows an older version
    # stored are checked again when their projections are rebuilt.
    if not (0.0 <= start <= LATEST_TIME and 0.0 <= stop <= LATEST_TIME):  # and not NaN
        raise InvalidDocument(
            "InvalidStartTime",
            f"times must be seconds since 1970 before the year 10000: {start!r}, {end!r}",
            "start_time",
        )
    if duration < 0.0:  # clock skew: never report negative times
        duration = 0.0
    return stop, duration, round(duration * 1000.0)


def histogram(values: list[float]) -> list[dict[str, Any]]:
    """X-Ray's {Value, Count} list: one entry per distinct millisecond-rounded value."""
    # map() over C functions keeps the per-value work out of the interpreter loop.
    return histogram_of(Counter(map(round, map(operator.mul, values, repeat(1000.0)))))


def histogram_of(millis: Counter[int]) -> list[dict[str, Any]]:
    return [{"Value": value / 1000, "Count": count} for value, count in millis.items()]


@dataclass
class CallStatistics:
    outcomes: Counter[int]
    durations: list[float]
    millis: Counter[int]  # calls per millisecond-rounded duration: the histograms
    first: float
    last: float

    @classmethod
    def of(cls, calls: Sequence[Sequence[Any]]) -> CallStatistics:
        if not calls:
            return cls(Counter(), [], Counter(), math.inf, -math.inf)
        # Entries lie scattered in memory: reading each once (zip transposes them into
        # columns in C) is ~40% faster than a pass over them per figure, and reading only
        # the five fields used (not the id, names...) saves another ~15%.
        starts, outcomes, stops, durations, millis = zip(*map(_FIGURES, calls), strict=True)
        return cls(Counter(outcomes), list(durations), Counter(millis), min(starts), max(stops))

    @classmethod
    def merged(cls, parts: list[CallStatistics]) -> CallStatistics:
        outcomes: Counter[int] = Counter()
        durations: list[float] = []
        millis: Counter[int] = Counter()
        for part in parts:
            outcomes.update(part.outcomes)
            durations.extend(part.durations)
            millis.update(part.millis)
        return cls(
            outcomes,
            durations,
            millis,
            min((p.first for p in parts), default=math.inf),
            max((p.last for p in parts), default=-math.inf),
        )

    def summary(self) -> dict[str, Any]:
        """A call counts in each statistic its flags name (see traces.outcome): a call flagged
        error + fault + throttle is one throttle and one fault, and never ok; TotalCount
        counts calls, so it can be less than OkCount + errors + faults."""
        error = throttle = fault = 0
        for bits, count in self.outcomes.items():
            if bits & THROTTLE:
                throttle += count
            elif bits & ERROR:
                error += count
            if bits & FAULT:
                fault += count
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
