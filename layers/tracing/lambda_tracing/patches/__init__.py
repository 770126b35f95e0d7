"""Auto-instrumentation: one module per library, each with an idempotent `patch()`.

`patch_configured(names)` is called once at layer start-up. A library already imported is patched
at once; one not imported yet is patched right after its first import (patches.hooks, a small
post-import hook on the standard library), so start-up never imports a library only to patch it.

Each library is wrapped by the layer's own plain functions (patches.hooks.wrap_method), which
record through the layer's recorder with the fields aws-xray-sdk's patchers write: neither
patching nor a traced call loads the SDK's recorder, its patchers or wrapt. (They cost a
function's first AWS call about 11 ms as Lambda runs it, and a cold start importing httpx about
8 ms.) What an AWS call's subsegment says comes from the SDK's parameter whitelist
(patches.aws_call). Should the SDK's own patchers be applied too (patch_all, run by Powertools'
Tracer), their wrappers record nothing (layer_recorder.PASS_THROUGH).

aws-xray-sdk itself imports botocore, urllib3 and httpx: a library first imported while the SDK's
own import runs has its patch wait for the end of that import, by when the SDK has wrapped or
swapped what it patches.
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
        from lambda_tracing.patches.hooks import when_imported

        when_imported(_XRAY_SDK, _patch_waiting)
        for name in dict.fromkeys(str(name).strip().lower() for name in names):
            if name not in SUPPORTED:
                log.warning("lambda_tracing: no instrumentation for %r; ignored", name)
                continue
            if name not in _accepted:
                _accepted.add(name)
                when_imported(name, _patcher_for(name))
            if name in _accepted:
                accepted.append(name)
    except Exception:
        log.warning("lambda_tracing: instrumentation failed", exc_info=True)
    return accepted


def _patcher_for(name: str) -> Callable[[ModuleType], None]:
    def patch_when_imported(_module: ModuleType) -> None:
        # Runs inside the user's import statement: it must never raise.
        if _sdk_initializing(name):
            _waiting_for_sdk.append(name)
        else:
            _apply(name)

    return patch_when_imported


def _sdk_initializing(name: str) -> bool:
    """Whether the SDK's core, or its own patch module for `name`, is being imported: the
    SDK's patch_all (Powertools' Tracer runs it) imports each library from inside those."""
    for module_name in (_XRAY_SDK, f"aws_xray_sdk.ext.{name}", f"aws_xray_sdk.ext.{name}.patch"):
        module = sys.modules.get(module_name)
        if getattr(getattr(module, "__spec__", None), "_initializing", False):
            return True
    return False


def _patch_waiting(_module: ModuleType) -> None:
    apply_waiting()


def apply_waiting() -> None:
    """Apply the patches that waited for an import of the SDK's to finish; start-up calls it
    again once the user's module is imported, by when any patch_all in it has finished."""
    while _waiting_for_sdk:
        _apply(_waiting_for_sdk.pop(0))


def _apply(name: str) -> None:
    try:
        importlib.import_module(f"{__name__}.{name}").patch()
    except Exception:
        _accepted.discard(name)
        log.warning("lambda_tracing: could not instrument %s", name, exc_info=True)
