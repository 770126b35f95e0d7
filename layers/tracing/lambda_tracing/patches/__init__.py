"""Auto-instrumentation: one module per library, each with an idempotent `patch()`.

`patch_configured(names)` is called once at layer start-up. A library already imported is patched
at once; one not imported yet is patched right after its first import (a wrapt post-import hook),
so start-up never imports a library only to patch it.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from types import ModuleType

log = logging.getLogger(__name__)

# Library name -> the module here that patches it.
SUPPORTED = ("botocore", "requests", "httpx", "urllib3")

_accepted: set[str] = set()


def patch_configured(names: Iterable[str]) -> list[str]:
    """Patch the named libraries now or on their first import; never raises.

    Returns the names accepted (supported, and patched now or waiting for their import), in the
    order given. Unknown names, and libraries whose patch failed, are logged and left out.
    """
    accepted: list[str] = []
    try:
        import wrapt

        for name in dict.fromkeys(str(name).strip().lower() for name in names):
            if name not in SUPPORTED:
                log.warning("lambda_tracing: no instrumentation for %r; ignored", name)
                continue
            if name not in _accepted:
                _accepted.add(name)
                wrapt.register_post_import_hook(_patcher_for(name), name)
            if name in _accepted:
                accepted.append(name)
    except Exception:
        log.warning("lambda_tracing: instrumentation failed", exc_info=True)
    return accepted


def _patcher_for(name: str):  # type: ignore[no-untyped-def]
    def patch_when_imported(_module: ModuleType) -> None:
        # Runs inside the user's import statement: it must never raise.
        try:
            _make_recorder_task_local()
            importlib.import_module(f"{__name__}.{name}").patch()
        except Exception:
            _accepted.discard(name)
            log.warning("lambda_tracing: could not instrument %s", name, exc_info=True)

    return patch_when_imported


def _make_recorder_task_local() -> None:
    """Patched calls in concurrent asyncio tasks must not share one entity stack (#164)."""
    from lambda_tracing.backend import get_backend
    from lambda_tracing.task_local import install_on

    install_on(get_backend())
