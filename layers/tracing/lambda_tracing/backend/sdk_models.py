"""aws-xray-sdk's entity model without the rest of the SDK, for the per-invocation path.

Importing any `aws_xray_sdk.core.*` module first runs the package's `__init__`, which builds the
SDK's global AsyncAWSXRayRecorder and imports its recorder, patcher, wrapt and asyncio: about
30 ms of a cold start, none of it needed to record a handler subsegment. `entity_class()` puts
the package in `sys.modules` unexecuted (its `__path__` is all submodule imports need), imports
just `models.entity`, and leaves the package to finish itself, the real `__init__` run into the
same module object, the first time anything asks it for an attribute it lacks (`xray_recorder`,
`patch`, ...): user code using the SDK's API (Powertools' Tracer), or its patch_all.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
import threading
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

PACKAGE = "aws_xray_sdk.core"
DAEMON_ADDRESS = "AWS_XRAY_DAEMON_ADDRESS"
_lock = threading.RLock()
_finishing: set[str] = set()


def entity_class() -> type:
    """aws-xray-sdk's Entity (the base of its Segment and Subsegment)."""
    return model("aws_xray_sdk.core.models.entity").Entity  # type: ignore[no-any-return]


def model(name: str) -> ModuleType:
    """An `aws_xray_sdk.core` submodule that needs nothing from the package's `__init__`
    (models, utils, exceptions), imported without running that `__init__`."""
    module = sys.modules.get(name)
    # A module another thread is still importing is in sys.modules half made (the first calls
    # of ten threads at once): import_module then waits for it, on the import system's lock.
    if module is not None and not getattr(module.__spec__, "_initializing", False):
        return module
    with _lock:
        if PACKAGE not in sys.modules:
            _install_unfinished()
    return importlib.import_module(name)


def _install_unfinished() -> None:
    import aws_xray_sdk

    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.loader is None:
        raise ImportError(f"{PACKAGE} not found")
    package = importlib.util.module_from_spec(spec)

    def finish_on_first_use(name: str) -> Any:  # PEP 562: only for attributes not yet set
        if name.startswith("__") or PACKAGE in _finishing:
            raise AttributeError(name)
        finish(package)
        return package.__dict__[name] if name in package.__dict__ else _missing(name)

    setattr(package, "__getattr__", finish_on_first_use)  # noqa: B010 - mypy: a module method
    sys.modules[PACKAGE] = package
    aws_xray_sdk.core = package  # type: ignore[attr-defined]


def finish(package: ModuleType | None = None) -> None:
    """Run the package's real `__init__` if it has not run yet (idempotent, thread-safe)."""
    package = package or sys.modules.get(PACKAGE)
    if package is None or "__getattr__" not in package.__dict__:
        return
    with _lock:
        if "__getattr__" not in package.__dict__ or PACKAGE in _finishing:
            return
        _finishing.add(PACKAGE)
        spec = package.__spec__
        spec._initializing = True  # type: ignore[union-attr]  # as the import system marks it
        try:
            _run_init(package)
            del package.__getattr__  # type: ignore[attr-defined]
            from lambda_tracing.patches.layer_recorder import adopt_sdk_recorder

            adopt_sdk_recorder(vars(package).get("xray_recorder"))
        finally:
            spec._initializing = False  # type: ignore[union-attr]
            _finishing.discard(PACKAGE)


def _run_init(package: ModuleType) -> None:
    """The package's `__init__`. It builds the SDK's recorder, which refuses daemon addresses
    the layer's emitter copes with (it strips a stray space, and replaces what it cannot read
    by the default, saying so): without that recorder no patcher works, so it is built on the
    SDK's default address instead. The layer never sends through it."""
    try:
        package.__spec__.loader.exec_module(package)  # type: ignore[union-attr]
    except Exception as error:
        if type(error).__name__ != "InvalidDaemonAddressException":
            raise
        address = os.environ.pop(DAEMON_ADDRESS, None)
        try:
            package.__spec__.loader.exec_module(package)  # type: ignore[union-attr]
        finally:
            if address is not None:
                os.environ[DAEMON_ADDRESS] = address
        log.warning(
            "lambda_tracing: aws-xray-sdk refuses %s=%r (%s); its recorder uses its "
            "default address",
            DAEMON_ADDRESS,
            address,
            error,
        )


def _missing(name: str) -> Any:
    raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}")


def import_finished(name: str) -> ModuleType:
    """`importlib.import_module(name)` for an SDK module that needs the finished package."""
    finish()
    return importlib.import_module(name)
