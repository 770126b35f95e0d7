"""Shared by the test_downstream_* tests: a real UDP daemon stand-in, a moto server, and a way to
run a "function" (downstream_functions.py) in its own process with the layer's patches applied.

Patches are process-wide and irreversible, so they are applied only inside those child processes,
never in the pytest process other tests share.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

FUNCTIONS = Path(__file__).with_name("downstream_functions.py")
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def new_trace_header(sampled: int = 1, extra: str = "") -> tuple[str, str, str]:
    """(header, root, parent) as Lambda sets `_X_AMZN_TRACE_ID`."""
    root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    parent = secrets.token_hex(8)
    header = f"Root={root};Parent={parent};Sampled={sampled}{extra}"
    return header, root, parent


class UdpDaemon:
    """Receives what the emitter sends to AWS_XRAY_DAEMON_ADDRESS over real UDP on loopback."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.1)
        self.address = f"127.0.0.1:{self.socket.getsockname()[1]}"
        self._documents: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._running = True
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while self._running:
            try:
                data = self.socket.recv(65535)
            except (TimeoutError, OSError):
                continue
            header, _, body = data.decode("utf-8").partition("\n")
            assert json.loads(header) == {"format": "json", "version": 1}
            with self._lock:
                self._documents.append(json.loads(body))

    def documents(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._documents)

    def wait_for(
        self, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            documents = self.documents()
            if done(documents):
                return documents
            time.sleep(0.02)
        return self.documents()

    def close(self) -> None:
        self._running = False
        self._thread.join(timeout=2)
        self.socket.close()


def flatten(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every (sub)segment in `documents`, nested ones given their parent_id and trace_id."""
    found: list[dict[str, Any]] = []

    def walk(entity: dict[str, Any], parent_id: str | None, trace_id: str | None) -> None:
        entity = dict(entity)
        entity.setdefault("parent_id", parent_id)
        entity.setdefault("trace_id", trace_id)
        found.append(entity)
        for child in entity.get("subsegments", ()):
            walk(child, entity["id"], entity["trace_id"])

    for document in documents:
        walk(document, document.get("parent_id"), document.get("trace_id"))
    return found


def run_function(scenario: str, env: dict[str, str], stdin: str = "") -> Any:
    """Run one scenario of downstream_functions.py in a fresh process; its printed JSON result."""
    child_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "_X_AMZN", "LAMBDA_TRACING", "POWERTOOLS"))
    }
    child_env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
            "PYTHONPATH": str(PROJECT_ROOT / "layers" / "tracing"),
        }
    )
    child_env.update(env)
    done = subprocess.run(
        [sys.executable, str(FUNCTIONS), scenario],
        input=stdin,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free loopback port (Lambda without Docker); yields its URL."""
    from moto.core.config import default_user_config
    from moto.server import ThreadedMotoServer

    previous = default_user_config["lambda"].get("use_docker", True)
    default_user_config["lambda"]["use_docker"] = False
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        default_user_config["lambda"]["use_docker"] = previous
