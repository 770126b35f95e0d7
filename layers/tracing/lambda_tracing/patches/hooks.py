"""The two small mechanisms patching needs, on the standard library alone (no wrapt, so start-up
imports neither wrapt nor, through it, asyncio).

- `when_imported(name, hook)`: call `hook(module)` once `name` is imported (at once if it
  already is). A finder at the front of `sys.meta_path` answers only for the names waited for:
  it asks the finders behind it for the real spec and wraps its loader, so the hook runs right
  after the module's own code, inside the same import (as wrapt's post-import hooks do).
- `on_first_call(owner, names, apply)`: put stand-ins on `owner`'s methods that, on the first
  call of any of them, put the originals back, run `apply()` (the real, heavier patch) once and
  call through to what is then in place. Libraries imported at start-up thus cost nothing to
  patch until they are used.
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

Hook = Callable[[ModuleType], None]

_hooks: dict[str, list[Hook]] = {}
_lock = threading.RLock()


def when_imported(name: str, hook: Hook) -> None:
    """Run `hook(module)` after `name` is imported, or now if it already is."""
    module = sys.modules.get(name)
    if module is not None:
        hook(module)
        return
    with _lock:
        _hooks.setdefault(name, []).append(hook)
        if not any(isinstance(finder, _PostImportFinder) for finder in sys.meta_path):
            sys.meta_path.insert(0, _PostImportFinder())


def _run_hooks(module: ModuleType) -> None:
    with _lock:
        hooks = _hooks.pop(module.__name__, [])
    for hook in hooks:
        try:
            hook(module)
        except Exception:  # inside the user's import statement: never raise
            log.warning(
                "lambda_tracing: post-import hook failed for %s", module.__name__, exc_info=True
            )


class _PostImportFinder:
    """Finds nothing itself: wraps the loader of a module someone waits for."""

    def __init__(self) -> None:
        self._resolving = threading.local()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in _hooks or getattr(self._resolving, "name", None) == fullname:
            return None
        self._resolving.name = fullname
        try:
            spec = _find_behind(self, fullname, path, target)
        finally:
            self._resolving.name = None
        loader = getattr(spec, "loader", None)
        if spec is None or loader is None or not hasattr(loader, "exec_module"):
            return spec
        spec.loader = _NotifyingLoader(loader)  # type: ignore[assignment]
        return spec

    def invalidate_caches(self) -> None:
        return None


def _find_behind(
    finder: Any, fullname: str, path: Sequence[str] | None, target: ModuleType | None
) -> ModuleSpec | None:
    for other in list(sys.meta_path):
        if other is finder or isinstance(other, _PostImportFinder):
            continue
        find_spec = getattr(other, "find_spec", None)
        if find_spec is None:
            continue
        spec = find_spec(fullname, path, target)
        if spec is not None:
            return spec  # type: ignore[no-any-return]
    return None


class _NotifyingLoader:
    """The real loader, then the hooks. The module's `__loader__` and `__spec__.loader` are set
    back to the real loader before its code runs, so nothing else ever sees this one."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        spec.loader = self._loader
        try:
            return self._loader.create_module(spec)  # type: ignore[no-any-return]
        finally:
            spec.loader = self  # type: ignore[assignment]

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        _run_hooks(sys.modules.get(module.__name__, module))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


def on_first_call(owner: Any, names: Sequence[str], apply: Callable[[], None]) -> None:
    """Stand-ins for `owner.<name>` that run `apply()` once, on the first call of any of them.

    A stand-in still on `owner` is replaced by the original before `apply()`. One that someone
    has wrapped meanwhile (aws-xray-sdk's patch_all, run by Powertools' Tracer) stays inside
    that wrapper, passing calls straight to the original: taking it out would take their
    wrapper out with it, and `apply()` then wraps on top of theirs."""
    originals = {name: owner.__dict__[name] for name in names}
    stand_ins: dict[str, Any] = {}
    restored: dict[str, bool] = {}
    done = threading.Lock()
    state = {"applied": False}

    def apply_once() -> None:
        with done:
            if state["applied"]:
                return
            for name, original in originals.items():
                restored[name] = owner.__dict__.get(name) is stand_ins[name]
                if restored[name]:
                    setattr(owner, name, original)
            state["applied"] = True
            try:
                apply()
            except Exception:
                log.warning(
                    "lambda_tracing: could not instrument %s", owner.__qualname__, exc_info=True
                )

    for name, original in originals.items():
        stand_ins[name] = _stand_in(owner, name, original, apply_once, restored)
        setattr(owner, name, stand_ins[name])


def _stand_in(
    owner: Any, name: str, original: Any, apply_once: Callable[[], None], restored: dict[str, bool]
) -> Any:
    def stand_in(self: Any, *args: Any, **kwargs: Any) -> Any:
        apply_once()
        if not restored.get(name, True):
            # Someone's wrapper holds this stand-in and called it: it has done its part, and
            # what `owner` holds now leads back to it, so this goes to the original.
            return original.__get__(self, type(self))(*args, **kwargs)
        # What `owner` now holds, bound to `self` (not `getattr(self, name)`: a subclass's
        # override calling super() would run twice).
        return owner.__dict__[name].__get__(self, type(self))(*args, **kwargs)

    functools.update_wrapper(stand_in, original)
    stand_in.lambda_tracing_deferred = True  # type: ignore[attr-defined]
    return stand_in
