"""A template's functions run locally: environments pooled per function, traced like Lambda."""

from __future__ import annotations

import json
import os
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from lambda_tracing_local.runtime import platform_log
from lambda_tracing_local.runtime import template as tpl
from lambda_tracing_local.runtime.environment import Environment, Outcome, runtime_command
from lambda_tracing_local.runtime.interpreters import python_for
from lambda_tracing_local.runtime.xray_segments import SegmentSender, TraceContext, lambda_segments

_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass
class InvokeResult:
    outcome: Outcome
    trace: TraceContext

    @property
    def payload(self) -> Any:
        return self.outcome.json()

    @property
    def function_error(self) -> str | None:
        return self.outcome.function_error


class UnknownFunction(KeyError):
    pass


class LocalLambda:
    def __init__(
        self,
        template_path: Path,
        values: tpl.LocalValues,
        moto_endpoint: str,
        layer_dirs: dict[str, Path],
        xray_daemon: str | None = None,
        xray_api: str | None = None,
        log: IO[bytes] | None = None,
        max_environments: int = 4,
        overrides: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.template_path = template_path
        self.template = tpl.load_template(template_path)
        self.functions = tpl.functions(self.template, template_path.parent)
        self.resolver = tpl.Resolver(self.template, values)
        self.moto_endpoint = moto_endpoint
        self.layer_dirs = layer_dirs
        self.xray_daemon = xray_daemon
        self.xray_api = xray_api
        self.log = log
        self.max_environments = max_environments
        self.overrides = overrides or {}  # like `sam local invoke --env-vars`
        self._sender = SegmentSender(xray_daemon) if xray_daemon else None
        self._idle: dict[str, list[Environment]] = {name: [] for name in self.functions}
        self._counts: dict[str, int] = dict.fromkeys(self.functions, 0)
        self._all: set[Environment] = set()
        self._pool = threading.Condition()
        self.cold_starts: dict[str, int] = dict.fromkeys(self.functions, 0)

    def __enter__(self) -> LocalLambda:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def spec(self, name: str) -> tpl.FunctionSpec:
        try:
            return self.functions[name]
        except KeyError:
            known = ", ".join(sorted(self.functions)) or "none"
            message = f"no function {name!r} in the template (known: {known})"
            raise UnknownFunction(message) from None

    def invoke(
        self,
        name: str,
        event: Any,
        upstream_trace: str | None = None,
        event_source: str | None = None,
        client_context: str | None = None,
        linked_traces: list[str] | None = None,
    ) -> InvokeResult:
        """Synchronous Invoke: a warm environment if one is idle, else a real cold start."""
        spec = self.spec(name)
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        trace = TraceContext.for_invocation(upstream_trace)
        if spec.tracing != "Active" and "Sampled=1" not in (upstream_trace or ""):
            trace.sampled = False
        request_id = str(uuid.uuid4())
        environment = self._acquire(spec)
        try:
            self._write_log(platform_log.start_line(request_id))
            outcome = environment.invoke(
                body, trace.runtime_header(), client_context, request_id=request_id
            )
            pid = environment.process.pid if environment.process else None
            self._write_log(platform_log.end_lines(outcome, spec.memory_size, trace, pid))
        finally:
            self._release(spec.name, environment)
        if trace.sampled and self._sender is not None:
            documents = lambda_segments(
                trace, spec.name, spec.arn, outcome, event_source, linked_traces or []
            )
            self._sender.send(documents)
        return InvokeResult(outcome, trace)

    def _write_log(self, text: str) -> None:
        stream = self.log if self.log is not None else sys.stderr.buffer
        stream.write(text.encode())
        stream.flush()

    def close(self) -> None:
        with self._pool:
            environments = list(self._all)
            self._all.clear()
        for environment in environments:
            environment.stop()
        if self._sender is not None:
            self._sender.close()

    def environment_variables(self, spec: tpl.FunctionSpec) -> dict[str, str]:
        env = {key: os.environ[key] for key in _INHERITED if key in os.environ}
        env.update(DUMMY_CREDENTIALS)
        env.update(
            {
                "AWS_REGION": tpl.REGION,
                "AWS_DEFAULT_REGION": tpl.REGION,
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": "local",
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
                "LAMBDA_TASK_ROOT": str(spec.code_dir),
                "LAMBDA_RUNTIME_DIR": str(Path(self.python(spec)).parent),
                "_HANDLER": spec.handler,
                "AWS_ENDPOINT_URL": self.moto_endpoint,
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.xray_daemon:
            env["AWS_XRAY_DAEMON_ADDRESS"] = self.xray_daemon
        if self.xray_api:
            env["AWS_ENDPOINT_URL_XRAY"] = self.xray_api
        opt_dirs = self._opt_dirs(spec)
        python_path = [str(spec.code_dir)] + [str(d / "python") for d in opt_dirs]
        env["PYTHONPATH"] = os.pathsep.join(python_path)
        if self.python(spec) != sys.executable:  # the layer as built, read-only as on Lambda
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        for key, value in self.resolver.resolve(spec.environment).items():
            if value is not None:
                env[key] = str(value)
        env.update(self.overrides.get(spec.name, {}))
        wrapper = env.get("AWS_LAMBDA_EXEC_WRAPPER")
        if wrapper:
            env["AWS_LAMBDA_EXEC_WRAPPER"] = str(self._opt_path(wrapper, opt_dirs, spec.name))
        return env

    def python(self, spec: tpl.FunctionSpec) -> str:
        """The Python its Runtime names when the project has it (interpreters.py)."""
        return python_for(spec.runtime, self._opt_dirs(spec))

    def command(self, env: dict[str, str], python: str = sys.executable) -> list[str]:
        """As Lambda does: the wrapper runs with the runtime's command line as its arguments."""
        wrapper = env.get("AWS_LAMBDA_EXEC_WRAPPER")
        return ([wrapper] if wrapper else []) + runtime_command(python)

    def _opt_dirs(self, spec: tpl.FunctionSpec) -> list[Path]:
        dirs = []
        for layer in spec.layers:
            logical_id = layer.get("Ref") if isinstance(layer, dict) else None
            if logical_id is None or logical_id not in self.layer_dirs:
                built = sorted(self.layer_dirs)
                message = f"{spec.name}: layer {layer!r} has no local build (built: {built})"
                raise tpl.TemplateError(message)
            dirs.append(self.layer_dirs[logical_id])
        return dirs

    @staticmethod
    def _opt_path(path: str, opt_dirs: list[Path], function_name: str) -> Path:
        """/opt is the layers' contents merged; locally each layer is its own directory."""
        if not path.startswith("/opt/"):
            return Path(path)
        relative = path[len("/opt/") :]
        for directory in opt_dirs:
            if (directory / relative).exists():
                return directory / relative
        raise tpl.TemplateError(f"{function_name}: {path} is in none of its layers {opt_dirs}")

    def _acquire(self, spec: tpl.FunctionSpec) -> Environment:
        with self._pool:
            while True:
                if self._idle[spec.name]:
                    return self._idle[spec.name].pop()
                if self._counts[spec.name] < self.max_environments:
                    self._counts[spec.name] += 1
                    self.cold_starts[spec.name] += 1
                    break
                self._pool.wait()
        try:
            env = self.environment_variables(spec)
            command, cwd = self.command(env, self.python(spec)), str(spec.code_dir)
            environment = Environment(
                spec.name, spec.arn, spec.timeout, command, env, cwd, self.log
            )
            with self._pool:
                self._all.add(environment)
            environment.start()
        except BaseException:
            with self._pool:
                self._counts[spec.name] -= 1
                self._pool.notify_all()
            raise
        return environment

    def _release(self, name: str, environment: Environment) -> None:
        with self._pool:
            if environment.alive:
                self._idle[name].append(environment)
            else:
                self._counts[name] -= 1
                self._all.discard(environment)
            self._pool.notify_all()
