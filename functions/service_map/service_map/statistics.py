"""Counts, rates, mean and nearest-rank percentiles of one node or edge."""

from __future__ import annotations

import math

from service_map.merge import Tally

PERCENTILES = (50, 90, 95, 99)


def percentiles(histogram: dict[float, int], wanted: tuple[int, ...] = PERCENTILES) -> list:
    """Nearest-rank percentiles (seconds) of a {value: count} histogram, None if it is empty.

    For percentile p of N samples the rank is ceil(p/100 x N), in integers so 95 x 20 is
    exactly rank 19; the answer is the smallest value whose cumulative count reaches it.
    ``wanted`` must be ascending.
    """
    if len(histogram) == 1:  # common, and every percentile is that one value
        ((value, count),) = histogram.items()
        return [value if count > 0 else None] * len(wanted)
    total = sum(histogram.values())
    if total <= 0:
        return [None] * len(wanted)
    ranks = [max(1, -(-p * total // 100)) for p in wanted]
    answers: list[float | None] = []
    rank = ranks[0]
    cumulative = 0
    for value in sorted(histogram):
        cumulative += histogram[value]
        while cumulative >= rank:
            answers.append(value)
            if len(answers) == len(ranks):
                return answers
            rank = ranks[len(answers)]
    raise AssertionError("cumulative counts reach the total")  # pragma: no cover


def milliseconds(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def statistics(tally: Tally, window_seconds: float) -> dict:
    """The summary's ``statistics`` object (see SUMMARY.md) for one node or edge."""
    # Written out flat: it runs once per node and edge, tens of thousands of times.
    requests = tally.requests
    p50 = p90 = p95 = p99 = None
    if tally.histogram:
        p50, p90, p95, p99 = percentiles(tally.histogram)
    if requests:
        ok_rate = round(tally.ok / requests, 6)
        error_rate = round(tally.errors / requests, 6)
        throttle_rate = round(tally.throttles / requests, 6)
        fault_rate = round(tally.faults / requests, 6)
        mean_ms: float | None = round(math.fsum(tally.response_times) / requests * 1000, 3)
    else:
        ok_rate = error_rate = throttle_rate = fault_rate = 0.0
        mean_ms = None
    return {
        "requests": requests,
        "ok": tally.ok,
        "errors": tally.errors,
        "throttles": tally.throttles,
        "faults": tally.faults,
        "requests_per_minute": (
            round(requests * 60 / window_seconds, 6) if window_seconds > 0 else None
        ),
        "ok_rate": ok_rate,
        "error_rate": error_rate,
        "throttle_rate": throttle_rate,
        "fault_rate": fault_rate,
        "mean_ms": mean_ms,
        "p50_ms": None if p50 is None else round(p50 * 1000, 3),
        "p90_ms": None if p90 is None else round(p90 * 1000, 3),
        "p95_ms": None if p95 is None else round(p95 * 1000, 3),
        "p99_ms": None if p99 is None else round(p99 * 1000, 3),
    }
