"""The command line without AWS: --help everywhere, saved files in, one-line errors out."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from lambda_tracing_local.cli import main
from lambda_tracing_local.cli.errors import CliError
from lambda_tracing_local.cli.since import parse_duration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures/xray"
GRAPH = FIXTURES / "get-service-graph.awsdocs.json"
TRACES = FIXTURES / "batch-get-traces.awsdocs.json"


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["map"],
        ["traces"],
        ["flame"],
        ["local"],
        ["local", "xray"],
        ["local", "invoke"],
        ["demo"],
    ],
)
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {' '.join(['lambda-tracing', *command])}")
    assert len(out.splitlines()) > 3


def test_no_command_prints_usage_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1h", timedelta(hours=1)),
        ("90m", timedelta(minutes=90)),
        ("1h30m", timedelta(hours=1.5)),
        ("2d", timedelta(days=2)),
        ("45s", timedelta(seconds=45)),
        ("0.5h", timedelta(minutes=30)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "1", "h", "5x", "1h 30m", "-1h", "0m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(CliError):
        parse_duration(text)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_map_from_a_file_in_every_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["map", "--input", str(GRAPH), "--format", "json"], capsys)
    assert code == 0
    summary = json.loads(out)
    assert len(summary["nodes"]) == 4 and len(summary["edges"]) == 3
    code, out, _ = run(["map", "--input", str(GRAPH)], capsys)
    assert code == 0 and "SNS" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    code, out, _ = run(["map", "--input", str(GRAPH), "--format", "mermaid"], capsys)
    assert code == 0 and out.startswith(("flowchart", "graph", "%%"))
    code, out, _ = run(["map", "--input", str(GRAPH), "--format", "svg"], capsys)
    assert code == 0 and out.startswith("<svg") and out.count('class="node"') == 4
    code, out, _ = run(["map", "--input", str(GRAPH), "--format", "html"], capsys)
    assert code == 0 and out.startswith("<!DOCTYPE html>") and out.count('class="edge"') == 3


def test_map_output_format_follows_the_file_suffix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "map.html"
    code, out, err = run(["map", "--input", str(GRAPH), "--output", str(target)], capsys)
    assert code == 0 and out == ""
    assert target.read_text().startswith("<!DOCTYPE html>")
    assert "4 services, 3 calls" in err  # progress goes to stderr


def bad_files(tmp_path: Path) -> dict[str, Path]:
    files = {
        "not json": "{ nope",
        "wrong shape": json.dumps({"Traces": []}),
        "negative histogram": json.dumps(
            {
                "Services": [
                    {
                        "ReferenceId": 0,
                        "Name": "a",
                        "Type": "AWS::Lambda",
                        "Edges": [],
                        "StartTime": 1,
                        "EndTime": 61,
                        "ResponseTimeHistogram": [{"Value": 0.1, "Count": -3}],
                    }
                ]
            }
        ),
    }
    paths = {}
    for name, text in files.items():
        paths[name] = tmp_path / f"{name.replace(' ', '-')}.json"
        paths[name].write_text(text)
    paths["missing"] = tmp_path / "nothing-here.json"
    return paths


@pytest.mark.parametrize("problem", ["not json", "wrong shape", "negative histogram", "missing"])
def test_map_bad_input_is_one_line_and_exit_2(
    problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = bad_files(tmp_path)[problem]
    code, out, err = run(["map", "--input", str(path)], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("lambda-tracing: error: ")
    assert str(path) in err


def test_flame_from_a_saved_response(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["flame", "--input", str(TRACES)], capsys)
    assert code == 0 and out.startswith("<!DOCTYPE html>") and out.count("data-depth=") == 11
    target = tmp_path / "trace.svg"
    trace_id = "1-59602603-23fc5b688855d396af79b496"
    code, _, _ = run(["flame", trace_id, "--input", str(TRACES), "--output", str(target)], capsys)
    assert code == 0 and target.read_text().startswith("<svg")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["flame", "1-5ee20a4a-bab71b6bbc0660dba2adab3e", "--input", str(TRACES)], "no such trace"),
        (["flame", "not-a-trace-id", "--input", str(TRACES)], "not an X-Ray trace id"),
        (["flame", "--input", str(GRAPH)], "not a BatchGetTraces response"),
        (["flame"], "name the TRACE_ID"),
        (["flame", "--input", str(TRACES), "--local"], "either --input or --local"),
        (["map", "--since", "an hour", "--local"], "not a duration"),
        (["traces", "--limit", "0", "--local"], "--limit must be at least 1"),
    ],
)
def test_flame_and_friends_fail_in_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_a_trace_that_cannot_be_drawn_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(
        json.dumps(
            {
                "Traces": [
                    {
                        "Id": "1-59602603-23fc5b688855d396af79b496",
                        "Segments": [{"Document": "{not json"}],
                    }
                ]
            }
        )
    )
    code, _, err = run(["flame", "--input", str(broken)], capsys)
    assert code == 2 and "not valid JSON" in err and err.count("\n") == 1


def test_a_missing_forwarded_command_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lambda_tracing_local.cli import forward

    monkeypatch.setitem(forward.FORWARDED, ("demo",), ("lambda_tracing_local.no_such", "x"))
    code, _, err = run(["demo"], capsys)
    assert code == 2 and "`demo` is not available" in err and err.count("\n") == 1


def loaded_after(statement: str) -> set[str]:
    """Top-level modules a fresh interpreter has loaded after running `statement`."""
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return {name.split(".")[0] for name in out.split()}


def test_the_cli_imports_aws_and_the_summariser_only_when_a_command_needs_them() -> None:
    loaded = loaded_after("import lambda_tracing_local.cli as cli; cli.build_parser()")
    assert not loaded & {"boto3", "botocore", "service_map"}


def test_the_pictures_need_only_the_standard_library() -> None:
    added = loaded_after("import service_map.pictures") - loaded_after("pass")
    assert "service_map" in added
    assert added - set(sys.stdlib_module_names) == {"service_map"}


def test_the_installed_console_script_runs() -> None:
    script = Path(sys.executable).parent / "lambda-tracing"
    done = subprocess.run(
        [str(script), "flame", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.startswith("usage: lambda-tracing flame")
