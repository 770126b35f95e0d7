"""A template's application running locally: moto, functions, API front and SQS pollers."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import IO

from lambda_tracing_local.runtime import template as tpl
from lambda_tracing_local.runtime.api_front import ApiFront
from lambda_tracing_local.runtime.aws_resources import MotoServer, create_resources
from lambda_tracing_local.runtime.local_lambda import LocalLambda
from lambda_tracing_local.runtime.sqs_source import SqsEventSource, mappings_of


class LocalApp:
    """Everything started in __enter__ is stopped in __exit__, in reverse order, even on error."""

    def __init__(
        self,
        template_path: Path,
        layer_dirs: dict[str, Path],
        xray_daemon: str | None = None,
        xray_api: str | None = None,
        parameters: dict[str, str] | None = None,
        log: IO[bytes] | None = None,
        max_environments: int = 4,
        with_api: bool = True,
        with_event_sources: bool = True,
        overrides: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.template_path = template_path
        self.layer_dirs = layer_dirs
        self.xray_daemon = xray_daemon
        self.xray_api = xray_api
        self.parameters = parameters or {}
        self.log = log
        self.max_environments = max_environments
        self.with_api = with_api
        self.with_event_sources = with_event_sources
        self.overrides = overrides
        self._stack = ExitStack()
        self.moto: MotoServer
        self.values: tpl.LocalValues
        self.functions: LocalLambda
        self.api: ApiFront | None = None
        self.event_sources: list[SqsEventSource] = []

    def __enter__(self) -> LocalApp:
        try:
            template = tpl.load_template(self.template_path)
            self.moto = self._stack.enter_context(MotoServer())
            self.values = create_resources(template, self.moto, self.parameters)
            self.functions = self._stack.enter_context(
                LocalLambda(
                    self.template_path,
                    self.values,
                    self.moto.endpoint,
                    self.layer_dirs,
                    xray_daemon=self.xray_daemon,
                    xray_api=self.xray_api,
                    log=self.log,
                    max_environments=self.max_environments,
                    overrides=self.overrides,
                )
            )
            if self.with_api:
                self.api = self._stack.enter_context(ApiFront(self.functions, self.xray_daemon))
            if self.with_event_sources:
                for source in mappings_of(self.functions, self.moto):
                    self.event_sources.append(self._stack.enter_context(source))
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def wait_until_drained(self, timeout: float) -> bool:
        return all(source.wait_until_drained(timeout) for source in self.event_sources)
