"""`lambda-tracing flame TRACE_ID`: one trace as a flame graph (HTML by default, or SVG)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from lambda_tracing_local.cli import aws
from lambda_tracing_local.cli.errors import CliError
from lambda_tracing_local.cli.output import choose_format, progress, read_json, write

TRACE_ID = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "flame",
        help="draw one trace as a flame graph (HTML or SVG)",
        description="Draw one trace as a flame graph: a row per depth, time left to right, "
        "colours by error/throttle/fault, hover for annotations, aws/http fields and "
        "exceptions. Reads AWS by default, the local X-Ray with --local, or a saved "
        "BatchGetTraces response with --input.",
    )
    parser.add_argument(
        "trace_id",
        nargs="?",
        metavar="TRACE_ID",
        help="e.g. 1-5ee20a4a-bab71b6bbc0660dba2adab3e (optional with --input "
        "when the file holds one trace)",
    )
    parser.add_argument(
        "--input",
        type=Path,
        metavar="FILE",
        help="a saved BatchGetTraces response (`aws xray batch-get-traces`)",
    )
    aws.add_source_options(parser)
    parser.add_argument(
        "--format",
        choices=["html", "svg"],
        help="output format (default html, or from --output's suffix)",
    )
    parser.add_argument("--output", type=Path, metavar="FILE", help="write here, not stdout")
    parser.set_defaults(run=run)


def _from_file(path: Path, trace_id: str | None) -> dict[str, Any]:
    response = read_json(path)
    traces = response.get("Traces") if isinstance(response, dict) else None
    if not isinstance(traces, list):
        raise CliError(f"{path}: not a BatchGetTraces response (no Traces list)")
    if trace_id is None:
        if len(traces) != 1:
            raise CliError(f"{path} holds {len(traces)} traces: name one TRACE_ID")
        return dict(traces[0])
    for trace in traces:
        if isinstance(trace, dict) and trace.get("Id") == trace_id:
            return trace
    raise CliError(f"no such trace: {trace_id} is not in {path}")


def _from_xray(args: argparse.Namespace, trace_id: str) -> dict[str, Any]:
    client = aws.xray_client(args)
    progress(f"fetching trace {trace_id} from {aws.endpoint_of(args) or 'AWS X-Ray'}")
    for page in client.get_paginator("batch_get_traces").paginate(TraceIds=[trace_id]):
        for trace in page.get("Traces") or []:
            if trace.get("Id") == trace_id:
                return dict(trace)
    raise CliError(
        f"no such trace: {trace_id} (X-Ray returned nothing for it: older than "
        "30 days, not processed yet, or never recorded)"
    )


def run(args: argparse.Namespace) -> int:
    from service_map.pictures import flame_html, flame_svg
    from service_map.pictures.trace_tree import TraceError

    trace_id = args.trace_id
    if trace_id is not None and not TRACE_ID.match(trace_id):
        raise CliError(f"not an X-Ray trace id: {trace_id!r} (expected 1-xxxxxxxx-xxxx...)")
    if args.input and (args.local or args.endpoint):
        raise CliError("use either --input or --local/--endpoint, not both")
    if args.input:
        trace = _from_file(args.input, trace_id)
    elif trace_id is None:
        raise CliError("name the TRACE_ID to draw (or --input a saved response)")
    else:
        trace = _from_xray(args, trace_id)
    fmt = choose_format(args.format, args.output, ["html", "svg"], "html")
    try:
        picture = flame_html(trace) if fmt == "html" else flame_svg(trace)
    except TraceError as error:
        raise CliError(f"trace {trace.get('Id', trace_id)}: {error}") from None
    write(picture, args.output)
    return 0
