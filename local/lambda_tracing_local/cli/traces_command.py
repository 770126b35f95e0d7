"""`lambda-tracing traces`: recent trace summaries as a table for an 80-column terminal."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from lambda_tracing_local.cli import aws
from lambda_tracing_local.cli.errors import CliError
from lambda_tracing_local.cli.output import progress, write
from lambda_tracing_local.cli.since import parse_duration

WIDTH = 80


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "traces",
        help="list recent traces (GetTraceSummaries) as a table",
        description="List recent traces, newest first, from AWS or the local X-Ray. "
        "--filter takes an X-Ray filter expression, e.g. 'service(\"orders\") AND fault'.",
    )
    parser.add_argument("--since", default="15m", help="window ending now (default 15m)")
    parser.add_argument("--filter", metavar="EXPRESSION", help="X-Ray filter expression")
    parser.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    aws.add_source_options(parser)
    parser.set_defaults(run=run)


def status_of(summary: dict[str, Any]) -> str:
    if summary.get("HasFault"):
        return "fault"
    if summary.get("HasThrottle"):
        return "thrott"
    if summary.get("HasError"):
        return "error"
    return "ok"


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: max(size - 1, 0)] + "…"


def _request(http: dict[str, Any]) -> str:
    """'POST 200 /api/user': the host is the service's own, so the path says more per column."""
    url = str(http.get("HttpURL") or "")
    parts = urlsplit(url) if "://" in url else None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "") if parts else url
    return " ".join(str(p) for p in (http.get("HttpMethod"), http.get("HttpStatus"), path) if p)


def table(summaries: list[dict[str, Any]], width: int = WIDTH) -> str:
    """One line per trace: id, start time, duration, status, request; never wider than width."""
    from service_map.pictures.text import duration_text

    fixed = 35 + 1 + 8 + 1 + 8 + 1 + 6 + 1
    request_width = max(width - fixed, 10)
    header = f"{'TRACE ID':<35} {'START':<8} {'DURATION':>8} {'STATUS':<6} REQUEST"
    lines = [_clip(header, width)]
    for summary in summaries:
        start = summary.get("StartTime")
        when = start.astimezone(UTC).strftime("%H:%M:%S") if isinstance(start, datetime) else "-"
        duration = summary.get("Duration")
        took = duration_text(duration * 1000) if isinstance(duration, int | float) else "-"
        request = _request(summary.get("Http") or {})
        line = (
            f"{_clip(str(summary.get('Id', '?')), 35):<35} {when:<8} {took:>8} "
            f"{status_of(summary):<6} {_clip(request, request_width)}"
        )
        lines.append(line.rstrip())
    if not summaries:
        lines.append("no traces in this window")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:

    if args.limit < 1:
        raise CliError("--limit must be at least 1")
    end = datetime.now(UTC)
    start = end - parse_duration(args.since)
    client = aws.xray_client(args)
    request: dict[str, Any] = {"StartTime": start, "EndTime": end, "Sampling": False}
    if args.filter:
        request["FilterExpression"] = args.filter
    found: list[dict[str, Any]] = []
    progress(f"reading trace summaries from {aws.endpoint_of(args) or 'AWS X-Ray'}")
    pages = client.get_paginator("get_trace_summaries").paginate(**request)
    for number, page in enumerate(pages, start=1):
        found.extend(page.get("TraceSummaries") or [])
        if number > 1:
            progress(f"page {number}: {len(found)} traces so far")
        if len(found) >= args.limit:
            break
    found.sort(key=lambda s: s.get("StartTime") or datetime.min.replace(tzinfo=UTC), reverse=True)
    write(table(found[: args.limit]), None)
    return 0
