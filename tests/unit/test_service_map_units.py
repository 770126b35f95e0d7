"""Percentiles, health, settings, windows and chunks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from service_map.health import Thresholds, health
from service_map.reader import chunks
from service_map.settings import Settings
from service_map.statistics import percentiles
from service_map.window import scheduled_time, windows_due


def test_nearest_rank_uses_exact_integer_ranks() -> None:
    # 20 samples 1..20: p95 rank ceil(0.95 x 20) = 19 exactly (float 0.95*20 could round up).
    histogram = {float(v): 1 for v in range(1, 21)}
    assert percentiles(histogram) == [10.0, 18.0, 19.0, 20.0]
    # One sample answers every percentile; an empty histogram answers None.
    assert percentiles({0.2: 7}) == [0.2] * 4
    assert percentiles({}) == [None] * 4
    # Unsorted input, heavy head: 0.1 x 98, 5.0 x 2 -> p95 rank 95 -> 0.1; p99 rank 99 -> 5.0.
    assert percentiles({5.0: 2, 0.1: 98}) == [0.1, 0.1, 0.1, 5.0]


def stats(requests: int, faults: int = 0, errors: int = 0, throttles: int = 0) -> dict:
    return {
        "fault_rate": faults / requests,
        "error_rate": errors / requests,
        "throttle_rate": throttles / requests,
    }


@pytest.mark.parametrize(
    ("figures", "expected"),
    [
        (stats(100), "ok"),
        (stats(1000, faults=1), "degraded"),  # faults > 0%
        (stats(100, faults=9), "degraded"),
        (stats(100, faults=10), "failing"),  # faults >= 10%
        (stats(100, errors=9), "ok"),
        (stats(100, errors=5, throttles=5), "degraded"),  # 4xx >= 10%, throttles included
        (stats(100, errors=20), "failing"),  # 4xx >= 20%
    ],
)
def test_health_follows_kiali_defaults(figures: dict, expected: str) -> None:
    assert health(figures, Thresholds()) == expected


def test_health_thresholds_from_environment() -> None:
    limits = Thresholds.from_env(
        {
            "HEALTH_FAULT_DEGRADED_PCT": "5",
            "HEALTH_ERROR_FAILING_PCT": "50",
            "REGRESSION_P99_PCT": "20",
        }
    )
    assert (limits.fault_degraded_pct, limits.error_failing_pct) == (5.0, 50.0)
    assert limits.regression_p99_pct == 20.0 and limits.fault_failing_pct == 10.0
    assert health(stats(100, faults=4), limits) == "ok"
    assert health(None, limits) is None
    with pytest.raises(ValueError, match="HEALTH_FAULT_FAILING_PCT"):
        Thresholds.from_env({"HEALTH_FAULT_FAILING_PCT": "lots"})


def test_settings_from_environment() -> None:
    settings = Settings.from_env(
        {
            "SUMMARY_BUCKET": "b",
            "XRAY_GROUPS": " Default, payments ,,Default",
            "SCHEDULE_MINUTES": "15",
            "CHUNK_HOURS": "0.5",
            "SUMMARY_PREFIX": "maps",
        }
    )
    assert settings.groups == ("Default", "payments")
    assert settings.schedule_minutes == 15 and settings.chunk == timedelta(minutes=30)
    assert settings.prefix == "maps/"
    assert Settings.from_env({"SUMMARY_BUCKET": "b"}).groups == ("Default",)
    with pytest.raises(ValueError, match="SUMMARY_BUCKET"):
        Settings.from_env({})
    with pytest.raises(ValueError, match="SCHEDULE_MINUTES"):
        Settings.from_env({"SUMMARY_BUCKET": "b", "SCHEDULE_MINUTES": "0"})


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_window_is_aligned_to_the_schedule_after_settling() -> None:
    minute = timedelta(seconds=60)
    # Scheduled 12:05:00, a minute to settle -> the last whole window is 11:55 .. 12:00.
    assert windows_due(at("2025-01-01T12:05:00"), 5, minute, None, 12) == [
        (at("2025-01-01T11:55:00"), at("2025-01-01T12:00:00"))
    ]
    # A late or early trigger lands on the same grid.
    assert windows_due(at("2025-01-01T12:08:59"), 5, minute, None, 12)[0][1] == at(
        "2025-01-01T12:05:00"
    )


def test_missed_windows_are_caught_up_oldest_first_within_the_cap() -> None:
    now = at("2025-01-01T12:06:00")
    due = windows_due(now, 5, timedelta(0), at("2025-01-01T11:50:00"), 12)
    # Last written window ended 11:50: 11:50-11:55, 11:55-12:00 and 12:00-12:05 are due.
    assert [w[1] for w in due] == [
        at("2025-01-01T11:55:00"),
        at("2025-01-01T12:00:00"),
        at("2025-01-01T12:05:00"),
    ]
    assert len(windows_due(now, 5, timedelta(0), at("2024-12-31T00:00:00"), 4)) == 4
    # Already written (a retried old event): just that window again.
    assert len(windows_due(now, 5, timedelta(0), at("2025-01-01T12:05:00"), 12)) == 1


def test_scheduled_time_from_event() -> None:
    assert scheduled_time({"time": "2025-01-01T12:05:00Z"}) == at("2025-01-01T12:05:00")
    now = at("2025-02-02T00:00:00")
    assert scheduled_time({}, now=now) == now
    with pytest.raises(ValueError, match="ISO 8601"):
        scheduled_time({"time": "noon"})


def test_chunks_cover_the_window_without_overlap() -> None:
    start = at("2025-01-01T00:00:00")
    pieces = chunks(start, start + timedelta(hours=13), timedelta(hours=6))
    assert [(b - a).total_seconds() / 3600 for a, b in pieces] == [6, 6, 1]
    assert all(pieces[i][1] == pieces[i + 1][0] for i in range(2))
    assert chunks(start, start, timedelta(hours=6)) == []
    with pytest.raises(ValueError):
        chunks(start, start + timedelta(hours=1), timedelta(0))


def test_summarising_imports_no_sdk() -> None:
    import subprocess
    import sys

    # The CLI and the Lambda import these on every start: definitions only, no boto3.
    code = (
        "import sys, service_map.summary, service_map.formats, service_map.reader;"
        "print(sorted(m for m in ('boto3', 'botocore', 'jsonschema') if m in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert found.stdout.strip() == "[]", found.stderr
