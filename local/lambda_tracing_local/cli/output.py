"""Where results go (a file or stdout), which format, and progress lines on stderr."""

from __future__ import annotations

import sys
from pathlib import Path

from lambda_tracing_local.cli.errors import CliError

SUFFIX_FORMATS = {
    ".json": "json",
    ".svg": "svg",
    ".html": "html",
    ".htm": "html",
    ".mmd": "mermaid",
    ".mermaid": "mermaid",
    ".txt": "table",
}


def progress(message: str) -> None:
    """A line about long work, on stderr so stdout stays clean for the result."""
    print(f"lambda-tracing: {message}", file=sys.stderr, flush=True)


def choose_format(
    explicit: str | None, output: Path | None, allowed: list[str], default: str
) -> str:
    """--format if given, else what --output's suffix says, else the default."""
    if explicit:
        return explicit
    if output is not None:
        guessed = SUFFIX_FORMATS.get(output.suffix.lower())
        if guessed in allowed:
            return guessed
    return default


def write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise CliError(f"cannot write {output}: {error.strerror or error}") from None
    progress(f"wrote {output}")


def read_json(path: Path) -> object:
    """The JSON in `path`, or a one-line CliError naming what is wrong."""
    import json

    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise CliError(
            f"{path} is not JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
