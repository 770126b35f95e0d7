"""Task-local storage for the aws-xray-sdk context, so concurrent work never crosses subsegments.

aws-xray-sdk's Lambda context keeps the open entities in a `threading.local` list: every asyncio
task of a thread shares it, so a subsegment opened in one task becomes the parent of another
task's, and ends pop each other's entries (aws-xray-sdk-python#164). `ContextLocal` is a drop-in
`threading.local` backed by a ContextVar whose `entities` stack is copy-on-write: each asyncio
task (which runs in a copy of its creator's context) and each thread started under
`contextvars.copy_context().run` sees its creator's open subsegment as parent and pushes its own
entries only into its own context. A plain new thread starts empty, so its subsegments attach to
the function's segment.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

log = logging.getLogger(__name__)

# The values of one context: never changed in place (a change makes a new dict), so a copied
# context keeps what it saw. A plain dict: copying a mapping proxy takes the slow path.
_EMPTY: dict[str, Any] = {}


class _EntityStack(list[Any]):
    """The list the SDK appends to and pops from; every change is written back as a new tuple."""

    def __init__(self, owner: ContextLocal, items: tuple[Any, ...]) -> None:
        super().__init__(items)
        self._owner = owner

    def append(self, item: Any) -> None:
        super().append(item)
        self._owner.entities = tuple(self)

    def pop(self, index: Any = -1) -> Any:
        item = super().pop(index)
        self._owner.entities = tuple(self)
        return item


class ContextLocal:
    """`threading.local` look-alike whose values live in the current `contextvars` context."""

    __slots__ = ("_var",)

    def __init__(self) -> None:
        object.__setattr__(self, "_var", ContextVar(f"lambda_tracing_{id(self):x}", default=_EMPTY))

    def __getattr__(self, name: str) -> Any:
        try:
            value = self._var.get()[name]
        except KeyError:
            raise AttributeError(name) from None
        return _EntityStack(self, value) if name == "entities" else value

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "entities":
            value = tuple(value)
        values = self._var.get().copy()
        values[name] = value
        self._var.set(values)

    def __delattr__(self, name: str) -> None:
        values = self._var.get().copy()
        if values.pop(name, None) is not None:
            self._var.set(values)

    @property
    def __dict__(self) -> Any:  # type: ignore[override]
        """The SDK's `clear_trace_entities` calls `_local.__dict__.clear()`."""
        return _Clearer(self)


class _Clearer:
    def __init__(self, owner: ContextLocal) -> None:
        self._owner = owner

    def clear(self) -> None:
        self._owner._var.set(_EMPTY)


def install(recorder: Any) -> bool:
    """Make `recorder`'s context task-local (idempotent); False if it cannot be, never raises."""
    try:
        context = getattr(recorder, "context", None)
        if context is None or not hasattr(context, "_local"):
            return False
        if not isinstance(context._local, ContextLocal):
            context._local = ContextLocal()
        return True
    except Exception:
        log.debug("context not made task-local", exc_info=True)
        return False


_installed_on: Any = None


def install_on(backend: Any) -> None:
    """`install` on a backend's recorder, once per backend object (cheap on every later call)."""
    global _installed_on
    if backend is not _installed_on:
        recorder = getattr(backend, "recorder", None)
        if recorder is None or install(recorder):
            _installed_on = backend
