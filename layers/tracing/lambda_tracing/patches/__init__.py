"""Auto-instrumentation: one module per library, each with an idempotent `patch()`.

`patch_configured(names)` is called once at layer start-up. A library already imported is patched
at once; one not imported yet is patched right after its first import (a wrapt post-import hook),
so start-up never imports a library only to patch it.

aws-xray-sdk itself imports botocore and urllib3: when that is how they are first imported, their
patches (which need the SDK) wait until the SDK's own import has finished.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable, Iterable
from types import ModuleType

log = logging.getLogger(__name__)

SUPPORTED = ("botocore", "requests", "httpx", "urllib3")
_XRAY_SDK = "aws_xray_sdk.core"

_accepted: set[str] = set()
_waiting_for_sdk: list[str] = []


def patch_configured(names: Iterable[str]) -> list[str]:
    """Patch the named libraries now or on their first import; never raises.

    Returns the names accepted (supported, and patched now or waiting for their import), in the
    order given. Unknown names, and libraries whose patch failed, are logged and left out.
    """
    accepted: list[str] = []
    try:
        import wrapt

        wrapt.register_post_import_hook(_patch_waiting, _XRAY_SDK)
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


def _patcher_for(name: str) -> Callable[[ModuleType], None]:
    def patch_when_imported(_module: ModuleType) -> None:
        # Runs inside the user's import statement: it must never raise.
        if _sdk_initializing():
            _waiting_for_sdk.append(name)
        else:
            _apply(name)

    return patch_when_imported


def _sdk_initializing() -> bool:
    module = sys.modules.get(_XRAY_SDK)
    return bool(getattr(getattr(module, "__spec__", None), "_initializing", False))


def _patch_waiting(_module: ModuleType) -> None:
    while _waiting_for_sdk:
        _apply(_waiting_for_sdk.pop(0))


def _apply(name: str) -> None:
    try:
        importlib.import_module(f"{__name__}.{name}").patch()
    except Exception:
        _accepted.discard(name)
        log.warning("lambda_tracing: could not instrument %s", name, exc_info=True)
