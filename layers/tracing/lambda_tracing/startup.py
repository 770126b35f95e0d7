"""Layer start-up for the wrapper: import the user's handler (LAMBDA_TRACING_HANDLER), timing
its imports for the cold-start breakdown, apply the configured library patches and the log
filter, and wrap it. A user import error is logged clearly and re-raised unchanged, so Lambda
reports it as it would without the layer.
"""

from __future__ import annotations

import importlib
import logging
import sys
import time
from typing import Any

from lambda_tracing import coldstart, config, invocation
from lambda_tracing.failures import log_failure

logger = logging.getLogger("lambda_tracing")


class HandlerNameError(ValueError):
    """LAMBDA_TRACING_HANDLER is missing or not `module.function`."""


def split_handler_name(name: str) -> tuple[str, str]:
    """`dir/module.function` -> ("dir.module", "function"), as Lambda's runtime reads _HANDLER."""
    module, _, function = name.strip().rpartition(".")
    if not module or not function:
        raise HandlerNameError(
            f"lambda_tracing: bad handler {name!r} in LAMBDA_TRACING_HANDLER (the wrapper moves "
            "_HANDLER there); expected module.function"
        )
    return module.replace("/", "."), function


def load_user_handler(settings: config.Settings) -> tuple[Any, str]:
    """Import the user's handler; record the import's timing for the first traced invocation.
    A handler that cannot be loaded fails as the runtime would fail it without the layer."""
    try:
        module_name, function_name = split_handler_name(settings.handler)
    except HandlerNameError as error:
        _fail_as_the_runtime(settings.handler, error)
        raise
    # Patch before the user's import: patches wait for each library's first import, and some
    # (httpx) replace classes a module-level client would otherwise be built from unpatched.
    patch_started = time.time()
    if settings.enabled:
        _patch(settings)
    started = time.time()
    timer = None
    try:
        with coldstart.timing_imports(settings.enabled and settings.cold_start_breakdown) as timer:
            module = importlib.import_module(module_name)
    except BaseException as error:
        logger.error("lambda_tracing: unable to import the function's handler module %r "
                     "(LAMBDA_TRACING_HANDLER=%s): %s: %s", module_name, settings.handler,
                     type(error).__name__, error)
        # Only what the runtime's loader itself names: any other error in the module's body
        # (an AttributeError too) reaches the runtime as it is.
        if isinstance(error, (ImportError, SyntaxError)):
            _fail_as_the_runtime(settings.handler, error)
        raise
    imported = time.time()
    if settings.enabled and settings.patch:
        _apply_waiting_patches()
    try:
        function = getattr(module, function_name)
    except AttributeError as error:
        logger.error("lambda_tracing: handler %r missing on module %r", function_name,
                     module_name)
        _fail_as_the_runtime(settings.handler, error)
        raise
    if settings.enabled:
        _start_instrumentation(settings, timer, (patch_started, started, imported), module_name)
    return function, function_name


def _fail_as_the_runtime(user_handler: str, error: BaseException) -> None:
    """Raise the Lambda runtime's own init fault for the user's handler, as its handler
    loader words it (Runtime.ImportModuleError, Runtime.UserCodeSyntaxError,
    Runtime.HandlerNotFound, Runtime.MalformedHandlerName, naming the user's module, not
    ours), when that runtime interface client is the one importing us. Without it (tests,
    other runtimes) this returns, and the caller raises `error` as it is."""
    runtime_exceptions = sys.modules.get("awslambdaric.lambda_runtime_exception")
    fault = getattr(runtime_exceptions, "FaultException", None)
    if fault is None:
        return
    try:
        modname, fname = user_handler.rsplit(".", 1)
    except ValueError as malformed:
        raise fault(fault.MALFORMED_HANDLER_NAME,
                    f"Bad handler '{user_handler}': {malformed}") from None
    if isinstance(error, ImportError):
        raise fault(fault.IMPORT_MODULE_ERROR,
                    f"Unable to import module '{modname}': {error}") from None
    if isinstance(error, SyntaxError):
        trace = [f'  File "{error.filename}" Line {error.lineno}\n    {error.text}']
        raise fault(fault.USER_CODE_SYNTAX_ERROR,
                    f"Syntax error in module '{modname}': {error}", trace) from None
    if isinstance(error, AttributeError):
        raise fault(fault.HANDLER_NOT_FOUND,
                    f"Handler '{fname}' missing on module '{modname}'", None) from None


def _start_instrumentation(settings: config.Settings, timer: coldstart.ImportTimer | None,
                           times: tuple[float, float, float], module_name: str) -> None:
    patch_started, started, imported = times
    if settings.log_trace_id:  # again after the user's import: it may have added handlers
        try:
            from lambda_tracing import logs

            logs.install()
        except Exception as error:  # noqa: BLE001
            log_failure("installing the log filter", error)
    if timer is not None:
        try:
            children = timer.slowest(settings.slow_imports) if settings.slow_imports else []
            if not children:
                children = [coldstart.Span(f"import {module_name}", started, imported)]
            children.append(coldstart.Span("## lambda_tracing patch", patch_started, started))
            coldstart.remember_init(coldstart.Span(f"## init {module_name}", patch_started,
                                                   imported, children))
        except Exception as error:  # noqa: BLE001
            log_failure("measuring the cold start", error)


def _patch(settings: config.Settings) -> None:
    """Instrument the configured libraries (lambda_tracing.patches, issue 4), if present."""
    if not settings.patch:
        return
    try:
        from lambda_tracing.patches import patch_configured  # type: ignore[attr-defined]
    except (ImportError, AttributeError) as error:
        logger.debug("lambda_tracing: library patching unavailable: %r", error)
        return
    try:
        patch_configured(settings.patch)
    except Exception as error:  # noqa: BLE001
        log_failure("patching libraries", error)


def _apply_waiting_patches() -> None:
    """Patches that waited for an import of aws-xray-sdk's inside the user's module (a
    patch_all at init) to finish."""
    patches = sys.modules.get("lambda_tracing.patches")
    if patches is None:
        return
    try:
        patches.apply_waiting()
    except Exception as error:  # noqa: BLE001
        log_failure("patching libraries", error)


def build_handler() -> Any:
    """The user's handler, imported and wrapped per the environment's settings."""
    settings = config.load()
    function, function_name = load_user_handler(settings)
    try:
        return invocation.wrap(function, settings, function_name)
    except Exception as error:  # noqa: BLE001
        log_failure("wrapping the handler", error)
        return function

