"""The `lambda-tracing` command line: `map`, `traces`, `flame`, `local xray|invoke`, `demo`.

Each command lives in its own module; this one parses, dispatches and turns every failure the
user can act on into one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

from lambda_tracing_local.cli import flame_command, forward, map_command, traces_command
from lambda_tracing_local.cli.errors import EXIT_USAGE, CliError, describe_aws_error, one_line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lambda-tracing",
        description="Distributed tracing for AWS Lambda: service maps and flame graphs from "
        "AWS X-Ray or the local X-Ray, and local mode.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    map_command.add_parser(commands)
    traces_command.add_parser(commands)
    flame_command.add_parser(commands)
    forward.add_parsers(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        forwarded = forward.match(arguments)
        if forwarded is not None:
            return forward.run(*forwarded)
        parser = build_parser()
        args = parser.parse_args(arguments)
        if not hasattr(args, "run"):
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        return int(args.run(args))
    except CliError as error:
        return _fail(str(error))
    except KeyboardInterrupt:
        print("lambda-tracing: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        message = describe_aws_error(error)
        if message is None:
            raise
        return _fail(message)


def _fail(message: str) -> int:
    print(f"lambda-tracing: error: {one_line(message)}", file=sys.stderr)
    return EXIT_USAGE
