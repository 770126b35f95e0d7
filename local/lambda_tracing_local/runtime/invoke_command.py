"""`lambda-tracing local invoke`: one event through one function of the template, traced."""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import ExitStack
from pathlib import Path

from lambda_tracing_local.runtime import template as tpl
from lambda_tracing_local.runtime.layers import LayerBuildError, build_layers
from lambda_tracing_local.runtime.local_app import LocalApp
from lambda_tracing_local.runtime.local_lambda import UnknownFunction


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lambda-tracing local invoke",
        description="Invoke one function of a SAM template locally under awslambdaric, with its "
        "layers, AWS calls going to a moto server and X-Ray segments to a local daemon.",
    )
    parser.add_argument("function", help="logical id of the function, e.g. OrdersFunction")
    parser.add_argument(
        "--event", "-e", required=True, type=Path, help="JSON event file ('-' = stdin)"
    )
    parser.add_argument("--template", "-t", type=Path, default=Path("template.yaml"))
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="template parameter override (repeatable)",
    )
    parser.add_argument(
        "--build-dir",
        type=Path,
        default=None,
        help="layer build directory (default: <template dir>/.aws-sam/local-layers)",
    )
    parser.add_argument(
        "--xray-daemon",
        default=os.environ.get("AWS_XRAY_DAEMON_ADDRESS"),
        help="send segments to this daemon (HOST:PORT); default: record into the local X-Ray store",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        event = json.loads(sys.stdin.read() if str(args.event) == "-" else args.event.read_text())
    except (OSError, ValueError) as error:
        parser.exit(2, f"lambda-tracing local invoke: cannot read event {args.event}: {error}\n")
    parameters = {}
    for item in args.parameter:
        name, sep, value = item.partition("=")
        if not sep:
            parser.exit(2, f"lambda-tracing local invoke: want --parameter NAME=VALUE: {item!r}\n")
        parameters[name] = value
    try:
        build_dir = args.build_dir or args.template.parent.resolve() / ".aws-sam" / "local-layers"
        return _invoke(args.function, event, args.template, parameters, args.xray_daemon, build_dir)
    except (tpl.TemplateError, LayerBuildError, UnknownFunction) as error:
        message = error.args[0] if isinstance(error, UnknownFunction) else error
        print(f"lambda-tracing local invoke: {message}", file=sys.stderr)
        return 2


def _invoke(
    function: str,
    event: object,
    template_path: Path,
    parameters: dict[str, str],
    xray_daemon: str | None,
    build_dir: Path,
) -> int:
    template = tpl.load_template(template_path)
    if function not in tpl.functions(template, template_path.parent):
        raise UnknownFunction(f"no function {function!r} in {template_path}")
    with ExitStack() as stack:
        xray = None
        if not xray_daemon:
            from lambda_tracing_local.xray import LocalXRay
            from lambda_tracing_local.xray.server import default_db_path

            xray = stack.enter_context(LocalXRay(db=default_db_path()))
            xray_daemon = xray.udp_address
        layers = build_layers(template, template_path.parent.resolve(), build_dir)
        app = stack.enter_context(
            LocalApp(
                template_path,
                layers,
                xray_daemon=xray_daemon,
                xray_api=xray.api_url if xray else None,
                parameters=parameters,
                with_api=False,
                with_event_sources=False,
            )
        )
        result = app.functions.invoke(function, event)
        if xray is not None:
            xray.wait_until_idle(timeout=5)
    print(json.dumps(result.payload, indent=2))
    print(
        f"{function}: {'cold' if result.outcome.cold_start else 'warm'} start, "
        f"request {result.outcome.request_id}, trace {result.trace.trace_id}"
        + (f", function error ({result.function_error})" if result.function_error else ""),
        file=sys.stderr,
    )
    return 1 if result.function_error else 0
