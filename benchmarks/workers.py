"""Long-lived execution environments, one process per variant, driven over stdin/stdout.

One process per variant keeps each tracer's global patching to itself, exactly as one Lambda
execution environment runs one function; the driver interleaves them so drift hits all alike.
"""

from __future__ import annotations

import json
import subprocess
import threading
from typing import Any

from variants import Variant


class WorkerError(RuntimeError):
    pass


class Worker:
    def __init__(self, variant: Variant, daemon_address: str, extra_env: dict[str, str]) -> None:
        self.variant = variant
        self._process = subprocess.Popen(
            variant.command("serve"),
            env=variant.environment(daemon_address, extra_env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._stderr_tail: list[str] = []
        self._stderr_reader = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_reader.start()

    def _drain_stderr(self) -> None:
        assert self._process.stderr is not None
        for line in self._process.stderr:
            self._stderr_tail = (self._stderr_tail + [line.rstrip()])[-20:]

    def _read_reply(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        while True:
            line = self._process.stdout.readline()
            if not line:
                self._process.wait(timeout=10)
                self._stderr_reader.join(timeout=2)
                raise WorkerError(self._failure_reason())
            try:
                reply = json.loads(line)
            except json.JSONDecodeError:
                continue  # the function printed something; not ours
            if isinstance(reply, dict):
                return reply

    def _failure_reason(self) -> str:
        lines = [line for line in self._stderr_tail if line.strip()]
        last = lines[-1] if lines else f"exit status {self._process.returncode}"
        return f"environment failed to start: {last[:160]}"

    def wait_ready(self) -> None:
        self._read_reply()

    def measure(self, workload: str, sampled: bool, n: int, gap_us: int = 0) -> dict[str, Any]:
        assert self._process.stdin is not None
        command = {"workload": workload, "sampled": sampled, "n": n, "gap_us": gap_us}
        try:
            self._process.stdin.write(json.dumps(command) + "\n")
            self._process.stdin.flush()
        except BrokenPipeError as error:
            raise WorkerError(self._failure_reason()) from error
        reply = self._read_reply()
        if "error" in reply:
            raise WorkerError(reply["error"])
        return reply

    def stop(self) -> None:
        if self._process.poll() is None:
            try:
                assert self._process.stdin is not None
                self._process.stdin.write(json.dumps({"stop": True}) + "\n")
                self._process.stdin.close()
                self._process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
