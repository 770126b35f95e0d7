"""`lambda-tracing map`: the service-map summary from AWS, the local X-Ray or a saved file."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lambda_tracing_local.cli import aws
from lambda_tracing_local.cli.errors import CliError, describe_aws_error
from lambda_tracing_local.cli.output import choose_format, progress, read_json, write
from lambda_tracing_local.cli.since import parse_duration

FORMATS = ["table", "json", "mermaid", "svg", "html"]


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "map",
        help="summarise the service graph (table, JSON, Mermaid, SVG or HTML)",
        description="Summarise X-Ray's service graph: every service and every call between "
        "them, with traffic, failures, p50-p99 latency and health. Reads AWS by default, the "
        "local X-Ray with --local, or a saved `aws xray get-service-graph` response with "
        "--input.",
    )
    parser.add_argument("--since", default="1h", help="window ending now (default 1h)")
    parser.add_argument("--group", default="Default", help="X-Ray group (default Default)")
    parser.add_argument(
        "--chunk", default="6h", help="read long windows in pieces this long (default 6h)"
    )
    parser.add_argument(
        "--input",
        type=Path,
        metavar="FILE",
        help="a saved GetServiceGraph response (one page or a list of pages), "
        "or a saved summary to redraw",
    )
    aws.add_source_options(parser)
    parser.add_argument(
        "--format", choices=FORMATS, help="output format (default table, or from --output's suffix)"
    )
    parser.add_argument("--output", type=Path, metavar="FILE", help="write here, not stdout")
    parser.set_defaults(run=run)


def _pages_from_xray(args: argparse.Namespace) -> tuple[list[dict], tuple[datetime, datetime]]:
    from service_map.errors import GraphReadError
    from service_map.reader import chunks, read_graph

    since, chunk = parse_duration(args.since), parse_duration(args.chunk)
    end = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - since
    where = aws.endpoint_of(args) or "AWS X-Ray"
    progress(
        f"reading the service graph of group {args.group} from {where}, "
        f"{start:%Y-%m-%d %H:%M} to {end:%H:%M} UTC"
    )
    client = aws.xray_client(args)
    pieces = chunks(start, end, chunk)
    pages: list[dict] = []
    try:
        for number, (piece_start, piece_end) in enumerate(pieces, start=1):
            if len(pieces) > 1:
                progress(f"chunk {number}/{len(pieces)}: {piece_start:%Y-%m-%d %H:%M} UTC")
            pages += read_graph(client, piece_start, piece_end, args.group, chunk)
    except GraphReadError as error:
        cause = error.__cause__ or error
        raise CliError(describe_aws_error(cause, aws.endpoint_of(args)) or str(error)) from None
    return pages, (start, end)


def build_summary(args: argparse.Namespace) -> dict[str, Any]:
    from service_map.errors import InputError
    from service_map.summary import FORMAT, load_pages, summarise

    if args.input and (args.local or args.endpoint):
        raise CliError("use either --input or --local/--endpoint, not both")
    started = time.monotonic()
    try:
        if args.input:
            data = read_json(args.input)
            if isinstance(data, dict) and data.get("format") == FORMAT:
                progress(f"{args.input} is a saved summary: drawing it as it is")
                return data
            pages = load_pages(data)
            summary = summarise(pages, group=args.group)
        else:
            pages, window = _pages_from_xray(args)
            summary = summarise(pages, group=args.group, window=window)
    except InputError as error:
        source = args.input or "the service graph"
        raise CliError(f"{source}: {error}") from None
    progress(
        f"{len(summary['nodes'])} services, {len(summary['edges'])} calls from "
        f"{len(pages)} page(s) in {time.monotonic() - started:.1f} s"
    )
    return summary


def render(summary: dict[str, Any], fmt: str) -> str:
    from service_map import formats, pictures

    renderers = {
        "table": formats.to_table,
        "json": formats.to_json,
        "mermaid": formats.to_mermaid,
        "svg": pictures.map_svg,
        "html": pictures.map_html,
    }
    return renderers[fmt](summary)


def run(args: argparse.Namespace) -> int:
    fmt = choose_format(args.format, args.output, FORMATS, "table")
    summary = build_summary(args)
    write(render(summary, fmt), args.output)
    return 0
