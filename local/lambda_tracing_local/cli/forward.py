"""Commands another part of the project implements: `local xray`, `local invoke`, `demo`.

Their modules are imported only when the command runs, so a missing or broken one costs the
other commands nothing and gives a one-line error."""

from __future__ import annotations

import importlib
from typing import Any

from lambda_tracing_local.cli.errors import CliError

# (words on the command line) -> (module whose main(argv) runs them, one-line help)
FORWARDED: dict[tuple[str, ...], tuple[str, str]] = {
    ("local", "xray"): (
        "lambda_tracing_local.xray",
        "run the local X-Ray: a daemon on UDP and an X-Ray API on HTTP",
    ),
    ("local", "invoke"): (
        "lambda_tracing_local.runtime",
        "invoke one function of the SAM template locally under awslambdaric",
    ),
    ("demo",): (
        "lambda_tracing_local.demo",
        "run the sample app locally, send orders, draw the map and a flame graph",
    ),
}


def match(argv: list[str]) -> tuple[tuple[str, ...], list[str]] | None:
    """The forwarded command `argv` starts with, and the arguments that follow it."""
    for words in FORWARDED:
        if tuple(argv[: len(words)]) == words:
            return words, argv[len(words) :]
    return None


def run(words: tuple[str, ...], argv: list[str]) -> int:
    module_name = FORWARDED[words][0]
    try:
        module = importlib.import_module(module_name)
        entry = module.main
    except (ImportError, AttributeError) as error:
        raise CliError(f"`{' '.join(words)}` is not available: {error}") from None
    result: Any = entry(argv)
    return int(result or 0)


def add_parsers(commands: Any) -> None:
    """List the forwarded commands in --help (their own --help comes from their modules)."""
    local = commands.add_parser(
        "local",
        help="local mode: the local X-Ray and local Lambda",
        description="Local mode: everything on this machine.",
    )
    local.set_defaults(run=lambda _args: _usage(local))
    local_commands = local.add_subparsers(title="commands", metavar="COMMAND")
    for words, (_, summary) in FORWARDED.items():
        target = local_commands if words[0] == "local" else commands
        target.add_parser(words[-1], help=summary, add_help=False)


def _usage(parser: Any) -> int:
    import sys

    parser.print_help(sys.stderr)
    return 2
