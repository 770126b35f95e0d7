"""The demo flow at small scale: sample app + tracing layer + local X-Ray + service-map Lambda."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import jsonschema
import pytest
from e2e_support import ROOT, assemble_tracing_layer
from lambda_tracing_local.demo import checks
from lambda_tracing_local.demo.flow import PAYMENT_HOST, DemoSettings, run_demo

pytestmark = pytest.mark.e2e


def _node(summary: dict, kind: str, name: str | None = None) -> dict:
    found = [n for n in summary["nodes"] if n["type"] == kind and name in (None, n["name"])]
    assert found, (kind, name, [(n["type"], n["name"]) for n in summary["nodes"]])
    return found[0]


def test_demo_at_small_scale(tmp_path: Path) -> None:
    template = ROOT / "template.yaml"
    layers = assemble_tracing_layer(tmp_path / "layers")
    settings = DemoSettings(
        template=template,
        output=tmp_path / "out",
        requests=24,
        concurrency=3,
        throttle_every=3,
        drain_timeout=60,
        layer_dirs=layers,
        progress=None,
    )
    result = run_demo(settings, say=lambda line: None)

    assert result.traffic is not None
    assert result.traffic.statuses[201] == 22  # every 12th order is oversized and faults
    assert result.traffic.statuses[502] == 2
    assert result.payment_charges == 22 and result.payment_throttled == 7
    summary = result.summary
    assert summary is not None, result.problems
    _node(summary, "client")
    _node(summary, "AWS::ApiGateway::Stage", "OrdersApi/prod")
    for function in ("OrdersFunction", "WorkerFunction"):
        _node(summary, "AWS::Lambda", function)
        _node(summary, "AWS::Lambda::Function", function)
    _node(summary, "AWS::DynamoDB::Table")
    queue = _node(summary, "AWS::SQS::Queue")
    payment = _node(summary, "remote", PAYMENT_HOST)
    assert [n for n in summary["nodes"] if n["type"].startswith("AWS::SNS")]
    orders = _node(summary, "AWS::Lambda::Function", "OrdersFunction")
    assert orders["statistics"]["faults"] == 2
    assert payment["statistics"]["throttles"] == 7
    worker_ids = {n["id"] for n in summary["nodes"] if n["name"] == "WorkerFunction"}
    assert any(
        e["async"] and e["source_id"] == queue["id"] and e["target_id"] in worker_ids
        for e in summary["edges"]
    )
    assert result.full_trace is not None  # one trace id: API -> orders -> SQS -> worker -> payment
    assert checks.hops(result.full_trace, PAYMENT_HOST) == checks.FULL_PATH
    assert result.problems == []
    schema_path = ROOT / "functions/service_map/service_map/summary.schema.json"
    written = json.loads((settings.output / "summary.json").read_text())
    jsonschema.validate(written, json.loads(schema_path.read_text()))
    assert written == summary
    assert (settings.output / "service-map.html").read_text().startswith("<!")
    assert (settings.output / "flame.html").exists()


def test_demo_command_rejects_bad_arguments(tmp_path: Path) -> None:
    from lambda_tracing_local.demo import main

    with pytest.raises(SystemExit) as zero_requests:
        main(["--requests", "0"])
    assert zero_requests.value.code == 2
    with pytest.raises(SystemExit) as no_template:
        main(["--template", str(tmp_path / "missing.yaml")])
    assert no_template.value.code == 2


def test_window_covering_holds_the_whole_run() -> None:
    from lambda_tracing_local.demo.flow import window_covering

    hour = 3600.0
    minutes, end = window_covering(10 * hour + 5, 10 * hour + 200)
    assert minutes == 60 and end.timestamp() == 11 * hour
    minutes, end = window_covering(11 * hour - 60, 11 * hour + 60)  # crosses 11:00
    assert minutes == 120 and end.timestamp() == 12 * hour
    minutes, end = window_covering(24 * hour - 60, 24 * hour + 60)  # crosses midnight
    start = end.timestamp() - minutes * 60
    assert start <= 24 * hour - 60 and 24 * hour + 60 <= end.timestamp()


def _processes_with(text: str) -> dict[int, str]:
    """pid -> command line of every process whose environment contains `text`."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if text.encode() in (proc / "environ").read_bytes():
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
                found[int(proc.name)] = cmdline.decode()
        except OSError:
            continue
    return found


def test_ctrl_c_stops_everything_the_demo_started(tmp_path: Path) -> None:
    marker = f"LAMBDA_TRACING_DEMO_TEST={uuid.uuid4()}"
    layers = assemble_tracing_layer(tmp_path / "layers")["TracingLayer"].parent
    command = [
        sys.executable,
        "-c",
        "import sys; from lambda_tracing_local.demo import main; sys.exit(main(sys.argv[1:]))",
        "--template",
        str(ROOT / "template.yaml"),
        "--output",
        str(tmp_path / "out"),
        "--requests",
        "2000",
        "--concurrency",
        "2",
        "--prebuilt-layers",
        str(layers),
    ]
    env = {**os.environ, marker.split("=")[0]: marker.split("=")[1]}
    demo = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    started: dict[int, str] = {}
    try:
        assert demo.stdout is not None
        for line in demo.stdout:
            if "sending" in line:
                break
        deadline = time.monotonic() + 20
        functions_seen = False
        while time.monotonic() < deadline and not functions_seen:
            time.sleep(0.5)
            moto = {p: c for p, c in _processes_with(marker).items() if "moto.server" in c}
            started.update(moto)
            for cmdline in moto.values():
                port = cmdline.split()[-1]
                started.update(_processes_with(f"AWS_ENDPOINT_URL=http://127.0.0.1:{port}\0"))
            functions_seen = any("awslambdaric" in c for c in started.values())
        assert any("moto.server" in c for c in started.values()), started
        assert any("awslambdaric" in c for c in started.values()), started
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=60) == 130
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
    time.sleep(0.5)
    alive = [pid for pid in started if Path(f"/proc/{pid}").exists()]
    assert alive == [], {pid: started[pid] for pid in alive}
