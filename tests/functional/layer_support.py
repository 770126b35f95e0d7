"""Shared by the test_layer_* functional tests: a built layer in a temporary "/opt", a real UDP
listener standing in for the X-Ray daemon, and a runtime-like driver run through the wrapper.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LAYER_SOURCE = PROJECT_ROOT / "layers" / "tracing"
DRIVER = Path(__file__).with_name("layer_driver.py")


def new_trace_header(sampled: int = 1) -> str:
    root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    return f"Root={root};Parent={secrets.token_hex(8)};Sampled={sampled}"


def build_layer(opt: Path) -> Path:
    """Lay the layer out as Lambda mounts it: opt/lambda-tracing and opt/python/lambda_tracing.
    (Its pip dependencies come from the test interpreter's environment.)"""
    python = opt / "python"
    python.mkdir(parents=True)
    shutil.copytree(
        LAYER_SOURCE / "lambda_tracing",
        python / "lambda_tracing",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    wrapper = opt / "lambda-tracing"
    shutil.copy2(LAYER_SOURCE / "lambda-tracing", wrapper)
    wrapper.chmod(0o755)
    return wrapper


class UdpListener:
    """A real UDP socket on loopback, port 0; collects datagrams as the daemon would."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        self.socket.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.socket.getsockname()[1]}"

    def receive(self, quiet_for: float = 0.3, limit: float = 5.0) -> list[dict[str, Any]]:
        """Datagrams until none arrive for `quiet_for` seconds; each parsed past its header."""
        documents: list[dict[str, Any]] = []
        deadline = time.monotonic() + limit
        self.socket.settimeout(quiet_for)
        while time.monotonic() < deadline:
            try:
                data = self.socket.recv(70000)
            except TimeoutError:
                break
            header, _, body = data.decode("utf-8").partition("\n")
            assert json.loads(header) == {"format": "json", "version": 1}
            assert len(data) <= 64 * 1024
            documents.append(json.loads(body))
        return documents

    def close(self) -> None:
        self.socket.close()


@contextmanager
def udp_listener() -> Iterator[UdpListener]:
    listener = UdpListener()
    try:
        yield listener
    finally:
        listener.close()


def run_through_wrapper(
    wrapper: Path,
    task_root: Path,
    handler: str,
    env: dict[str, str],
    invocations: list[dict[str, Any]],
    timeout: float = 60,
) -> dict[str, Any]:
    """Run layer_driver.py as Lambda runs its runtime: `exec $AWS_LAMBDA_EXEC_WRAPPER cmd`."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LAMBDA_TASK_ROOT": str(task_root),
        "PYTHONPATH": str(task_root),
        "_HANDLER": handler,
        "AWS_LAMBDA_FUNCTION_NAME": "layer-test-fn",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": "us-east-1",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9",
        **env,
    }
    completed = subprocess.run(
        [str(wrapper), sys.executable, str(DRIVER), json.dumps(invocations)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise AssertionError(f"driver failed ({completed.returncode}):\n{completed.stderr}")
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    report: dict[str, Any] = json.loads(lines[-1])
    report["stderr"] = completed.stderr
    return report
