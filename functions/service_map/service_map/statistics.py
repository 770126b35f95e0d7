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
    requests = tally.requests
    p50, p90, p95, p99 = percentiles(tally.histogram)
    mean = math.fsum(tally.response_times) / requests if requests else None
    return {
        "requests": requests,
        "ok": tally.ok,
        "errors": tally.errors,
        "throttles": tally.throttles,
        "faults": tally.faults,
        "requests_per_minute": (
            round(requests / (window_seconds / 60), 6) if window_seconds > 0 else None
        ),
        "ok_rate": _rate(tally.ok, requests),
        "error_rate": _rate(tally.errors, requests),
        "throttle_rate": _rate(tally.throttles, requests),
        "fault_rate": _rate(tally.faults, requests),
        "mean_ms": milliseconds(mean),
        "p50_ms": milliseconds(p50),
        "p90_ms": milliseconds(p90),
        "p95_ms": milliseconds(p95),
        "p99_ms": milliseconds(p99),
    }


def _rate(part: int, requests: int) -> float:
    return round(part / requests, 6) if requests else 0.0
