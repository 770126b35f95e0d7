"""Cold start: which invocation is the first, and what the user's module spent its init on.

`ImportTimer` times each module's `exec_module` (its own top-level code, nested imports
included) while the user's handler module is imported, by standing in for `exec_module` on the
file loader classes for that block only. Finding modules is left to the normal machinery: per
import this costs one extra Python call, two clock reads and a list append (about 4k instructions
on CPython 3.13; a meta-path finder repeating the search and wrapping each loader instance cost
32k, a quarter of the layer's whole cold start over a function importing boto3). It needs no
`-X importtime` and no parsing.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib.machinery import ExtensionFileLoader, SourceFileLoader, SourcelessFileLoader
from typing import Any

# Loaders made per module (safe to wrap per instance); shared/class loaders are left alone.
_PER_MODULE_LOADERS = (SourceFileLoader, SourcelessFileLoader, ExtensionFileLoader)
_INIT_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"


class FirstTime:
    """True for the first `take()` in this process, False ever after. With provisioned
    concurrency or SnapStart the environment was initialised ahead of any request, so no
    invocation is a cold start (as Powertools reports it)."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending = True

    def take(self) -> bool:
        pending, self._pending = self._pending, False
        return pending and os.environ.get(_INIT_TYPE, "on-demand") == "on-demand"


cold_start = FirstTime()


# Plain classes, not dataclasses: this module loads at every cold start, and making a dataclass
# costs about a millisecond.
class Span:
    """A timed piece of init, in epoch seconds, with the pieces inside it."""

    __slots__ = ("name", "start", "end", "children")

    def __init__(
        self, name: str, start: float, end: float, children: list[Span] | None = None
    ) -> None:
        self.name = name
        self.start = start
        self.end = end
        self.children: list[Span] = [] if children is None else children

    def __repr__(self) -> str:
        return f"Span({self.name!r}, {self.start!r}, {self.end!r}, {self.children!r})"


class _Record:
    __slots__ = ("name", "start", "end", "parent")

    def __init__(self, name: str, start: float, end: float = 0.0, parent: int = -1) -> None:
        self.name = name
        self.start = start
        self.end = end
        self.parent = parent


class ImportTimer:
    def __init__(self) -> None:
        self.records: list[_Record] = []
        self._stack: list[int] = []
        self._thread = threading.get_ident()
        self._wall_offset = time.time() - time.perf_counter()
        self._replaced: list[tuple[Any, Any]] = []

    def install(self) -> None:
        loader_class: Any
        for loader_class in _PER_MODULE_LOADERS:
            own = vars(loader_class).get("exec_module")  # None: inherited
            self._replaced.append((loader_class, own))
            loader_class.exec_module = self._timed(loader_class.exec_module)

    def uninstall(self) -> None:
        while self._replaced:
            loader_class, own = self._replaced.pop()
            if own is None:
                del loader_class.exec_module
            else:
                loader_class.exec_module = own

    def _timed(self, original: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
        records, stack, thread = self.records, self._stack, self._thread
        clock, get_ident = time.perf_counter, threading.get_ident

        def exec_module(loader: Any, module: Any) -> None:
            if get_ident() != thread:  # another thread importing meanwhile: not the user's init
                return original(loader, module)
            index = len(records)
            records.append(_Record(module.__name__, clock(), parent=stack[-1] if stack else -1))
            stack.append(index)
            try:
                original(loader, module)
            finally:
                records[index].end = clock()
                stack.pop()
            return None

        return exec_module

    def slowest(self, count: int) -> list[Span]:
        """The `count` slowest imports as a forest: each under its nearest kept importer.

        An importer takes at least as long as what it imports, so the kept set is closed
        under "importer of", and the forest mirrors the real import nesting."""
        done = [(index, record) for index, record in enumerate(self.records) if record.end]
        done.sort(key=lambda item: item[1].end - item[1].start, reverse=True)
        kept = {index for index, _ in done[:count]}
        spans: dict[int, Span] = {}
        roots: list[Span] = []
        for index in sorted(kept):
            record = self.records[index]
            span = Span(f"import {record.name}", self._wall(record.start), self._wall(record.end))
            spans[index] = span
            parent = record.parent
            while parent != -1 and parent not in kept:
                parent = self.records[parent].parent
            (spans[parent].children if parent in spans else roots).append(span)
        return roots

    def _wall(self, counter: float) -> float:
        return self._wall_offset + counter


@contextmanager
def timing_imports(enabled: bool = True) -> Iterator[ImportTimer | None]:
    """Time the imports of the block; the loader classes are as they were afterwards."""
    if not enabled:
        yield None
        return
    timer = ImportTimer()
    timer.install()
    try:
        yield timer
    finally:
        timer.uninstall()


_pending_init: Span | None = None


def remember_init(span: Span) -> None:
    """Keep the init breakdown until the first traced invocation sends it."""
    global _pending_init
    _pending_init = span


def take_init() -> Span | None:
    global _pending_init
    span, _pending_init = _pending_init, None
    return span


def init_pending() -> bool:
    return _pending_init is not None


def emit_init(backend: Any) -> None:
    """Send the remembered init breakdown under the current entity, if there is one (a traced
    invocation); otherwise keep it for the next."""
    span = _pending_init
    if span is not None and emit(backend, span):
        take_init()


def emit(backend: Any, span: Span) -> bool:
    """Send `span` and its children as backdated subsegments under the current entity; False
    when there is none to send them in."""
    opened = backend.begin_subsegment(span.name, start_time=span.start)
    if opened is None:
        return False
    try:
        for child in sorted(span.children, key=lambda item: item.start):
            emit(backend, child)
    finally:
        backend.end_subsegment(opened, end_time=span.end)
    return True


def describe(spans: Sequence[Span], depth: int = 0) -> Iterator[str]:
    """Readable lines (for debug logs and tests)."""
    for span in spans:
        yield f"{'  ' * depth}{span.name} {1000 * (span.end - span.start):.1f} ms"
        yield from describe(span.children, depth + 1)
