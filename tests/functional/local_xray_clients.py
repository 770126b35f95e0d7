"""Support for the real-client tests: the local X-Ray started as users start it
(`lambda-tracing local xray`, in its own process) and reading it back through boto3."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

CLI = Path(sys.executable).with_name("lambda-tracing")


@dataclass
class RunningXRay:
    udp: str  # HOST:PORT, the daemon (and its sampling rules over TCP)
    api_url: str
    process: subprocess.Popen[str]

    def client(self) -> Any:
        return boto3.client(
            "xray",
            endpoint_url=self.api_url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )


def _free_port(kind: socket.SocketKind, also_tcp: bool = False) -> int:
    """A loopback port free for `kind` (and for TCP too, where the daemon serves sampling)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
            if not also_tcp:
                return port
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free loopback port")


@contextlib.contextmanager
def local_xray_command(directory: Path) -> Iterator[RunningXRay]:
    """`lambda-tracing local xray` on free loopback ports with its store in `directory`."""
    udp = f"127.0.0.1:{_free_port(socket.SOCK_DGRAM, also_tcp=True)}"
    api = f"127.0.0.1:{_free_port(socket.SOCK_STREAM)}"
    command = [str(CLI), "local", "xray", "--udp", udp, "--api", api]
    log = (directory / "local-xray.log").open("w")
    process = subprocess.Popen(
        [*command, "--db", str(directory / "xray.sqlite3")],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()  # printed once both listeners are up
        log_text = (directory / "local-xray.log").read_text
        assert ready.startswith("local X-Ray: daemon on"), (ready, log_text())
        yield RunningXRay(udp, f"http://{api}", process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Call `check` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(0.2)


def documents(trace: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(segment["Document"]) for segment in trace["Segments"]]


def walk(element: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield element
    for child in element.get("subsegments") or ():
        yield from walk(child)


def fresh(moto_endpoint: str) -> None:
    """Empty moto's state: every moto server in this process shares it, and earlier tests
    leave tables behind (moto's reset API)."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
