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
import types
from collections.abc import Callable
from typing import Any

from lambda_tracing import coldstart, config, invocation
from lambda_tracing.failures import log_failure
from lambda_tracing.isolation import layer_imports

logger = logging.getLogger("lambda_tracing")


class HandlerNameError(ValueError):
    """LAMBDA_TRACING_HANDLER is missing or not `module.function`."""


def split_handler_name(name: str) -> tuple[str, str]:
    """`dir/module.function` -> ("dir/module", "function"), split exactly as Lambda's runtime
    splits _HANDLER (no stripping: a name the runtime cannot load must fail here too)."""
    module, dot, function = name.rpartition(".")
    if not dot:
        raise HandlerNameError("not enough values to unpack (expected 2, got 1)")
    return module, function


def load_user_handler(settings: config.Settings) -> tuple[Any, str]:
    """Import the user's handler as Lambda's runtime (awslambdaric's bootstrap) would, step for
    step, and record the import's timing for the first traced invocation. A handler that cannot
    be loaded fails as the runtime fails it without the layer: the same fault type and message,
    and a traceback with none of the layer's frames."""
    name = settings.handler
    try:
        module_name, function_name = split_handler_name(name)
    except HandlerNameError as error:
        _fail_as_the_runtime("MALFORMED_HANDLER_NAME", f"Bad handler '{name}': {error}")
        raise
    if module_name.split(".")[0] in sys.builtin_module_names:
        message = f"Cannot use built-in module {module_name} as a handler module"
        _fail_as_the_runtime("BUILT_IN_MODULE_CONFLICT", message)
    # Patch before the user's import: patches wait for each library's first import, and some
    # (httpx) replace classes a module-level client would otherwise be built from unpatched.
    patch_started = time.time()
    if settings.enabled:
        with layer_imports():
            _patch(settings)
    started = time.time()
    timer = None
    try:
        with coldstart.timing_imports(settings.enabled and settings.cold_start_breakdown) as timer:
            module = import_with_room(module_name.replace("/", "."))
    except ImportError as error:
        _log_import_failure(module_name, name, error)
        _fail_as_the_runtime(
            "IMPORT_MODULE_ERROR", f"Unable to import module '{module_name}': {error}"
        )
        raise
    except SyntaxError as error:
        _log_import_failure(module_name, name, error)
        trace = [f'  File "{error.filename}" Line {error.lineno}\n    {error.text}']
        _fail_as_the_runtime(
            "USER_CODE_SYNTAX_ERROR", f"Syntax error in module '{module_name}': {error}", trace
        )
        raise
    except BaseException as error:
        _log_import_failure(module_name, name, error)
        raise _as_the_runtime_reports(error)  # noqa: B904 - its own cause and context kept
    imported = time.time()
    if settings.enabled and settings.patch:
        _apply_waiting_patches()
    try:
        function = getattr(module, function_name)
    except AttributeError:
        logger.error("lambda_tracing: handler %r missing on module %r", function_name, module_name)
        _fail_as_the_runtime(
            "HANDLER_NOT_FOUND", f"Handler '{function_name}' missing on module '{module_name}'"
        )
        raise
    if settings.enabled:
        with layer_imports():
            _start_instrumentation(settings, timer, (patch_started, started, imported), module_name)
    return function, function_name


# Slots of value stack claimed by the frame the user's import runs from: 128 KiB, so CPython maps
# a 256 KiB chunk for it and the import's frames run in the other half (import_with_room).
_STACK_ROOM_SLOTS = 16_384


def _import_module(import_module: Any, name: str) -> Any:
    return import_module(name)


def import_with_room(name: str) -> Any:
    """`importlib.import_module(name)`, with room on the interpreter's frame stack.

    CPython (3.11+) keeps Python frames in 16 KiB chunks: it maps one when a call does not fit
    in the current chunk and unmaps it when the chunk's first frame returns (pystate.c,
    push_chunk and _PyThreadState_PopFrame). Importing boto3 runs some 340 nested module
    bodies, and wherever their depth keeps crossing a chunk's end, each crossing costs an mmap,
    a munmap and fresh page faults: about 20 us each on a Firecracker microVM, as Lambda runs
    functions. Where the ends fall depends on every frame below, the layer's included: 986
    chunks were mapped per cold start with boto3 under the layer, 23 without it; 1 now
    (benchmarks/frame_stack.py). Called from a frame whose code claims a large value stack,
    the import starts a chunk of its own big enough to hold it, whose untouched pages cost
    nothing; nested calls never reach its end."""
    code = _import_module.__code__
    call: Callable[[Any, str], Any]
    try:
        roomy = code.replace(co_stacksize=code.co_stacksize + _STACK_ROOM_SLOTS)
        call = types.FunctionType(roomy, globals())
    except Exception:  # noqa: BLE001 - code objects that are not CPython's: the plain call
        call = _import_module
    return call(importlib.import_module, name)


def _log_import_failure(module_name: str, handler: str, error: BaseException) -> None:
    logger.error(
        "lambda_tracing: unable to import the function's handler module %r "
        "(LAMBDA_TRACING_HANDLER=%s): %s: %s",
        module_name,
        handler,
        type(error).__name__,
        error,
    )


def _fail_as_the_runtime(fault_name: str, message: str, trace: list[str] | None = None) -> None:
    """Raise the Lambda runtime's own init fault (Runtime.ImportModuleError,
    Runtime.UserCodeSyntaxError, Runtime.HandlerNotFound, Runtime.MalformedHandlerName,
    Runtime.BuiltInModuleConflict), worded as its handler loader words it, naming the user's
    module, not ours, when that runtime interface client is the one importing us. Without it
    (tests, other runtimes) this returns, and the caller raises the error as it is."""
    runtime_exceptions = sys.modules.get("awslambdaric.lambda_runtime_exception")
    fault = getattr(runtime_exceptions, "FaultException", None)
    if fault is None:
        return
    raise fault(getattr(fault, fault_name), message, trace) from None


class _ReportedAttributeError(Exception):
    """An AttributeError from the user's module body, as the runtime reports it without the
    layer (type name, message, traceback). Under the layer the import runs inside the runtime's
    `getattr(module, "handler")`, whose `except AttributeError` would turn it into
    Runtime.HandlerNotFound."""


_ReportedAttributeError.__name__ = _ReportedAttributeError.__qualname__ = "AttributeError"


def _as_the_runtime_reports(error: BaseException) -> BaseException:
    """`error` with the layer's frames cut out of its traceback (and an AttributeError
    disguised, see above, when awslambdaric is loading us)."""
    from lambda_tracing.stacks import traceback_of, with_traceback, without_layer_frames

    traceback = without_layer_frames(traceback_of(error))
    if issubclass(type(error), AttributeError) and "awslambdaric.bootstrap" in sys.modules:
        reported = _ReportedAttributeError(*BaseException.__dict__["args"].__get__(error))
        cause = BaseException.__dict__["__cause__"].__get__(error)
        reported.__cause__, reported.__suppress_context__ = cause, True
        return reported.with_traceback(traceback)
    return with_traceback(error, traceback)


def _start_instrumentation(
    settings: config.Settings,
    timer: coldstart.ImportTimer | None,
    times: tuple[float, float, float],
    module_name: str,
) -> None:
    patch_started, started, imported = times
    # The backend (and its emitter, which starts resolving the daemon's host name) is made
    # now, in Lambda's init phase, so no invocation pays for it: the first one used to take
    # 20-50 ms more than the next, and a daemon host name that never resolves 10 s.
    try:
        from lambda_tracing.backend import get_backend

        get_backend()
    except Exception as error:  # noqa: BLE001
        log_failure("starting the tracing backend", error)
    # The SDK's own recorder, if the user's module built it (Powertools Tracer does), records
    # into the layer's spans from the first invocation on.
    sdk = sys.modules.get("aws_xray_sdk.core")
    if sdk is not None and "xray_recorder" in vars(sdk):
        from lambda_tracing.patches.layer_recorder import adopt_sdk_recorder

        adopt_sdk_recorder(vars(sdk)["xray_recorder"])
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
            coldstart.remember_init(
                coldstart.Span(f"## init {module_name}", patch_started, imported, children)
            )
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
