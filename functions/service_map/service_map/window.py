"""Which windows a scheduled run summarises: aligned to the schedule, catching up on gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

Window = tuple[datetime, datetime]


def scheduled_time(event: Any, now: datetime | None = None) -> datetime:
    """The ``time`` of an EventBridge Scheduler or rule event, else ``now``, in UTC."""
    raw = event.get("time") if isinstance(event, dict) else None
    if isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"event time {raw!r} is not ISO 8601") from None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return now or datetime.now(UTC)


def windows_due(
    scheduled: datetime,
    minutes: int,
    settle: timedelta,
    last_end: datetime | None,
    most: int,
) -> list[Window]:
    """Windows to summarise, oldest first.

    The newest is the last whole ``minutes`` window (on the epoch grid) ending at least
    ``settle`` before ``scheduled``, so late segments have arrived. When the last written
    window (``last_end``, from latest.json) is older, the windows in between come too (a
    failed run is redone by the next), at most ``most`` of them, the newest kept.
    """
    step = timedelta(minutes=minutes)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    end = epoch + ((scheduled - settle) - epoch) // step * step
    due = [(end - step, end)]
    if last_end is not None:
        while len(due) < most and due[0][0] >= last_end + step:
            start = due[0][0]
            due.insert(0, (start - step, start))
    return due
