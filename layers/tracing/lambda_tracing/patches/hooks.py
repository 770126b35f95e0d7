"""The two small mechanisms patching needs, on the standard library alone (no wrapt, so start-up
imports neither wrapt nor, through it, asyncio).

- `when_imported(name, hook)`: call `hook(module)` once `name` is imported (at once if it
  already is). A finder at the front of `sys.meta_path` answers only for the names waited for:
  it asks the finders behind it for the real spec and wraps its loader, so the hook runs right
  after the module's own code, inside the same import (as wrapt's post-import hooks do).
- `wrap_method(owner, name, around)`: a method wrapped by a plain function, in the calling
  convention of wrapt's wrappers, without wrapt: one frame and one bound method per call.
"""

from __future__ import annotations

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


Around = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


def wrap_method(owner: type, name: str, around: Around) -> None:
    """`owner.name` replaced by a plain function calling `around(call, self, args, kwargs)`
    (wrapt's order), `call` being the method it replaced, bound to `self`: the library's own,
    or a wrapper another tracer put there first (wrapt's needs binding to see its instance)."""
    original = owner.__dict__[name]
    bind = original.__get__

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        return around(bind(self, owner), self, args, kwargs)

    for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
        if hasattr(original, attribute):  # a partial or callable object may lack some
            setattr(wrapper, attribute, getattr(original, attribute))
    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(owner, name, wrapper)
