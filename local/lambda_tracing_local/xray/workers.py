"""The ingest worker processes' side (see ingest.py): a store per worker, a batch per call.

Importing this module compiles the schema validators: the fork server imports it once, so
every worker forked from it starts with them compiled. Nothing else needs to import it.
"""

from __future__ import annotations

from .documents import warm_up
from .gcpause import gc_paused
from .ingest import BatchResult, ingest_batch
from .store import TraceStore

warm_up()
_store: TraceStore | None = None


def start(path: str, retention_seconds: float) -> None:
    """The pool's initializer: open this worker's own connection to the store."""
    global _store
    _store = TraceStore(path, retention_seconds)


def work(datagrams: list[bytes], now: float) -> BatchResult:
    assert _store is not None, "ingest worker used before its initializer ran"
    with gc_paused():
        return ingest_batch(_store, datagrams, now)
