"""One execution environment: a runtime API server plus the awslambdaric process it feeds."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from lambda_tracing_local.runtime import processes
from lambda_tracing_local.runtime.runtime_api import Invocation, RuntimeApiServer

INIT_TIMEOUT_SECONDS = 10.0  # Lambda's limit for the init phase
# Lambda reads the handler from _HANDLER when the runtime starts, i.e. after an exec wrapper
# had its chance to change it; awslambdaric takes it as an argument, so a shell bridges the two.
RUNTIME_COMMAND = ["/bin/sh", "-c", 'exec "$0" -m awslambdaric "$_HANDLER"', sys.executable]


def runtime_command(python: str) -> list[str]:
    """RUNTIME_COMMAND with the function's Python in place of ours."""
    return [*RUNTIME_COMMAND[:-1], python]


@dataclass
class Outcome:
    """What Invoke returns, plus the timings Lambda's X-Ray segments are drawn from."""

    request_id: str
    payload: bytes
    function_error: str | None  # as X-Amz-Function-Error: "Unhandled" or None
    cold_start: bool
    init_started: float | None
    init_ended: float | None
    invoke_started: float
    delivered_at: float | None
    finished_at: float
    ready_at: float
    xray_cause: dict[str, Any] | None = None
    error_type: str | None = None

    def json(self) -> Any:
        """The payload decoded; text as is when a runtime answered something other than JSON."""
        try:
            return json.loads(self.payload) if self.payload else None
        except ValueError:
            return self.payload.decode(errors="replace")


class Environment:
    """Started once (a real cold start), reused while warm, thrown away on timeout or crash."""

    def __init__(
        self,
        function_name: str,
        function_arn: str,
        timeout_seconds: int,
        command: list[str],
        env: dict[str, str],
        cwd: str,
        log: IO[bytes] | None = None,
    ) -> None:
        self.function_name = function_name
        self.function_arn = function_arn
        self.timeout_seconds = timeout_seconds
        self._command = command
        self._env = env
        self._cwd = cwd
        self._log = log
        self.server = RuntimeApiServer()
        self.process: subprocess.Popen[bytes] | None = None
        self.initialised = False
        self.alive = True
        self.init_started: float | None = None
        self.start_error: str | None = None

    def start(self) -> None:
        self.server.start()
        env = {**self._env, "AWS_LAMBDA_RUNTIME_API": self.server.address}
        self.init_started = time.time()
        fileno = self._log.fileno() if self._log is not None else None
        try:
            self.process = processes.start(
                self._command, env=env, cwd=self._cwd, stdout=fileno, stderr=fileno
            )
        except OSError as error:  # e.g. an exec wrapper that is missing or not executable
            self.start_error = f"fork/exec {self._command[0]}: {error.strerror or error}"

    def stop(self) -> None:
        self.alive = False
        if self.process is not None:
            processes.stop(self.process, grace_seconds=0.5)
        self.server.stop()

    def invoke(
        self,
        event: bytes,
        trace_header: str | None,
        client_context: str | None = None,
        cognito_identity: str | None = None,
        request_id: str | None = None,
    ) -> Outcome:
        invoke_started = time.time()
        request_id = request_id or str(uuid.uuid4())
        cold_start = not self.initialised
        init_started = self.init_started if cold_start else None
        if cold_start:
            failure = self._wait_for_init(request_id)
            if failure is not None:
                return self._outcome(request_id, failure, invoke_started, True, init_started)
        init_ended = time.time() if cold_start else None
        deadline = time.time() + self.timeout_seconds
        invocation = Invocation(
            request_id=request_id,
            event=event,
            function_arn=self.function_arn,
            deadline_ms=int(deadline * 1000),
            trace_header=trace_header,
            client_context=client_context,
            cognito_identity=cognito_identity,
        )
        polls_before = self.server.next_polls
        self.server.submit(invocation)
        while not invocation.done.wait(0.02):
            if self._exited():
                self.stop()
                error = self._exit_error(request_id)
                return self._outcome(
                    request_id,
                    error,
                    invoke_started,
                    cold_start,
                    init_started,
                    init_ended,
                    invocation,
                )
            if time.time() >= deadline:
                return self._time_out(
                    invocation, invoke_started, cold_start, init_started, init_ended
                )
        outcome = self._outcome(
            request_id,
            invocation.error,
            invoke_started,
            cold_start,
            init_started,
            init_ended,
            invocation,
        )
        outcome.ready_at = self._wait_until_ready(polls_before)
        return outcome

    def _wait_for_init(self, request_id: str) -> dict[str, Any] | None:
        """None once the runtime asks for its first event; else the error Lambda would report."""
        limit = time.time() + INIT_TIMEOUT_SECONDS
        with self.server.changed:
            while True:
                if self.start_error is not None:
                    self.stop()
                    message = f"RequestId: {request_id} Error: {self.start_error}"
                    return _error("Runtime.InvalidEntrypoint", message)
                if self.server.init_error is not None:
                    self.stop()
                    return self.server.init_error
                if self.server.next_polls > 0:
                    self.initialised = True
                    return None
                if self._exited():
                    self.stop()
                    return self._exit_error(request_id)
                if time.time() >= limit:
                    self.stop()
                    return _error(
                        "Sandbox.Timedout",
                        f"RequestId: {request_id} Error: Task timed out after "
                        f"{INIT_TIMEOUT_SECONDS:.2f} seconds (init)",
                    )
                self.server.changed.wait(0.05)

    def _time_out(
        self,
        invocation: Invocation,
        invoke_started: float,
        cold_start: bool,
        init_started: float | None,
        init_ended: float | None,
    ) -> Outcome:
        """Lambda freezes and discards the sandbox; we kill the process group."""
        self.stop()
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        message = f"Task timed out after {self.timeout_seconds:.2f} seconds"
        self._write_log(f"{stamp} {invocation.request_id} {message}\n")
        error = _error("Sandbox.Timedout", f"RequestId: {invocation.request_id} Error: {message}")
        return self._outcome(
            invocation.request_id,
            error,
            invoke_started,
            cold_start,
            init_started,
            init_ended,
            invocation,
        )

    def _wait_until_ready(self, polls_before: int) -> float:
        """The environment is free again when the runtime polls /next (the end of Overhead)."""
        limit = time.time() + 2.0
        with self.server.changed:
            while self.server.next_polls <= polls_before and time.time() < limit:
                if self._exited():
                    self.stop()
                    break
                self.server.changed.wait(0.02)
        return self.server.last_next_at or time.time()

    def _outcome(
        self,
        request_id: str,
        error: dict[str, Any] | None,
        invoke_started: float,
        cold_start: bool,
        init_started: float | None,
        init_ended: float | None = None,
        invocation: Invocation | None = None,
    ) -> Outcome:
        now = time.time()
        if error is not None:
            payload = json.dumps(error).encode()
        else:
            payload = invocation.response or b"" if invocation else b""
        return Outcome(
            request_id=request_id,
            payload=payload,
            function_error="Unhandled" if error is not None else None,
            cold_start=cold_start,
            init_started=init_started,
            init_ended=init_ended,
            invoke_started=invoke_started,
            delivered_at=invocation.delivered_at if invocation else None,
            finished_at=invocation.finished_at if invocation and invocation.finished_at else now,
            ready_at=now,
            xray_cause=invocation.xray_cause if invocation else None,
            error_type=(invocation.error_type if invocation and invocation.error_type else None)
            or (str(error.get("errorType")) if error else None),
        )

    def _exit_error(self, request_id: str) -> dict[str, Any]:
        code = self.process.returncode if self.process else None
        message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {code}"
        return _error("Runtime.ExitError", message)

    def _exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def _write_log(self, line: str) -> None:
        stream = self._log if self._log is not None else sys.stderr.buffer
        stream.write(line.encode())
        stream.flush()


def _error(error_type: str, message: str) -> dict[str, Any]:
    return {"errorType": error_type, "errorMessage": message}
