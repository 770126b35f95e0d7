"""The scheduled Lambda: read each X-Ray group's service graph for the windows due, write the
summary, its Mermaid map and pictures to S3, point latest.json at it, emit its metrics.

A group whose graph cannot be read (after adaptive retries) or whose files cannot be written
makes the invocation fail once every group has been tried, and its latest.json is left
alone; the next run (or Lambda's retry of this one) redoes the window at the same keys.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from service_map.errors import GraphReadError, InputError
from service_map.settings import Settings
from service_map.storage import SUMMARY_FILE, SummaryStore, latest_end
from service_map.window import Window, scheduled_time, windows_due

logger = Logger()


class ServiceMapFailed(RuntimeError):
    """Some groups or windows could not be summarised; the invocation must fail."""


@logger.inject_lambda_context(log_event=False)
def handler(event: dict, context: Any) -> dict:
    """Lambda entry point (service_map.handler.handler) for an EventBridge schedule event.

    The event's ``time`` (ISO 8601; a rule's event has it, a Scheduler target is given it as
    ``{"time": "<aws.scheduler.scheduled-time>"}``) picks the window; without it, now."""
    settings = Settings.from_env()
    xray, s3 = clients(settings.max_attempts)
    return run(event, settings=settings, xray=xray, s3=s3)


@functools.cache
def clients(max_attempts: int) -> tuple[Any, Any]:
    """X-Ray and S3 clients with botocore's adaptive retries, made once per container."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "adaptive", "total_max_attempts": max_attempts})
    return boto3.client("xray", config=config), boto3.client("s3", config=config)


def run(event: dict, *, settings: Settings, xray: Any, s3: Any) -> dict:
    """Summarise every due window of every group; raise ``ServiceMapFailed`` if any failed."""
    scheduled = scheduled_time(event)
    store = SummaryStore(s3, settings.bucket, settings.prefix)
    report: dict[str, list] = {}
    failures = []
    for group in settings.groups:
        try:
            report[group] = _run_group(group, scheduled, settings, xray, store)
        except Exception as error:  # one group's trouble must not stop the others
            logger.exception("service map failed", extra={"group": group})
            failures.append(f"{group}: {error}")
    if failures:
        raise ServiceMapFailed("; ".join(failures))
    return {"scheduled": scheduled.isoformat(), "groups": report}


def _run_group(
    group: str, scheduled: datetime, settings: Settings, xray: Any, store: SummaryStore
) -> list:
    pointer = store.read_latest(group)
    last_end = latest_end(pointer)
    if last_end is not None and last_end > scheduled:
        # A pointer past the run's own time (a clock gone wrong, a hand edit) would hold
        # every later window back for good: read it as no pointer.
        logger.warning(
            "latest.json ends after the scheduled time; ignored",
            extra={"group": group, "latest_end": last_end.isoformat()},
        )
        last_end = None
    due = windows_due(
        scheduled,
        settings.schedule_minutes,
        settings.settle,
        last_end,
        settings.catch_up_windows,
    )
    done = []
    unusable = []
    previous: dict | None = None
    for window in due:
        if previous is None:
            previous = store.read_previous(group, *window)
        try:
            summary, keys = _summarise_window(group, window, previous, settings, xray, store)
        except InputError as error:
            # X-Ray's answer for this window cannot be summarised, and asking again gives the
            # same answer: report it, and go on with the windows after it rather than stall.
            logger.exception("window skipped", extra={"group": group, "window": str(window)})
            unusable.append(f"{window[0].isoformat()}/{window[1].isoformat()}: {error}")
            continue
        if last_end is None or window[1] >= last_end:  # latest.json only moves forward
            store.write_latest(group, summary, keys)
            last_end = window[1]
        done.append({"window": summary["window"], "summary_key": keys[SUMMARY_FILE]})
        previous = summary
    if unusable:
        raise InputError(
            f"{len(unusable)} window(s) could not be summarised: " + "; ".join(unusable)
        )
    return done


def _summarise_window(
    group: str,
    window: Window,
    previous: dict | None,
    settings: Settings,
    xray: Any,
    store: SummaryStore,
) -> tuple[dict, dict[str, str]]:
    from service_map.emf import emit_metrics
    from service_map.reader import read_graph
    from service_map.summary import summarise

    start, end = window
    try:
        pages = read_graph(xray, start, end, group, settings.chunk)
    except GraphReadError as error:
        _keep_partial(group, window, error.pages, previous, settings, store)
        raise
    summary = summarise(
        pages, group=group, previous=previous, thresholds=settings.thresholds, window=window
    )
    keys = store.write_window(group, start, end, render(summary))
    counts = emit_metrics(summary, settings.namespace, settings.metric_nodes, settings.metric_edges)
    logger.info(
        "service map written",
        extra={
            "group": group,
            "window": summary["window"],
            "nodes": len(summary["nodes"]),
            "edges": len(summary["edges"]),
            "pages": len(pages),
            "key": keys[SUMMARY_FILE],
            "metrics": counts,
        },
    )
    return summary, keys


def _keep_partial(
    group: str,
    window: Window,
    pages: list[dict],
    previous: dict | None,
    settings: Settings,
    store: SummaryStore,
) -> None:
    """Write what was read before a failure, marked incomplete, where the window's summary
    goes (a retry overwrites it) unless a complete one is there already; latest.json and
    metrics are left alone."""
    from service_map.formats import to_json
    from service_map.summary import summarise

    try:
        existing = store.read_summary(group, *window)
        if existing is not None and existing.get("complete") is not False:
            return
        summary = summarise(
            pages,
            group=group,
            previous=previous,
            thresholds=settings.thresholds,
            window=window,
            complete=False,
        )
        store.write_window(group, *window, {SUMMARY_FILE: (to_json(summary), "application/json")})
    except Exception:
        logger.exception("could not keep the partial summary", extra={"group": group})


def render(summary: dict) -> dict[str, tuple[str, str]]:
    """The files of one window: summary JSON, Mermaid, and the pictures when they render
    (a picture that fails is logged and left out; the JSON still lands)."""
    from service_map.formats import to_json, to_mermaid

    files = {
        SUMMARY_FILE: (to_json(summary), "application/json"),
        "map.mmd": (to_mermaid(summary), "text/vnd.mermaid; charset=utf-8"),
    }
    for name, function, content_type in (
        ("map.svg", "map_svg", "image/svg+xml"),
        ("map.html", "map_html", "text/html; charset=utf-8"),
    ):
        try:
            from service_map import pictures

            files[name] = (getattr(pictures, function)(summary), content_type)
        except Exception:
            logger.exception("picture failed", extra={"picture": name})
    return files
