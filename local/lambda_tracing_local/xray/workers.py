"""The ingest worker processes' side (see ingest.py): a store per worker, a batch per call.

Importing this module compiles the schema validators: the fork server imports it once, so
every worker forked from it starts with them compiled. Nothing else needs to import it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from multiprocessing.synchronize import Lock

from .documents import warm_up
from .gcpause import gc_paused
from .ingest import BatchResult, ingest_batch
from .store import TraceStore

log = logging.getLogger(__name__)
# Rows a worker writes between WAL checkpoints: with two workers, one per ~40,000 rows or
# ~60 MB of WAL, about where the daemon's own connections checkpoint (CHECKPOINT_PAGES).
CHECKPOINT_ROWS = 20_000
TURN_TIMEOUT_SECONDS = 5.0  # a write or a checkpoint's tail takes milliseconds

warm_up()
_store: TraceStore | None = None
_write_lock: Lock | None = None
_written = 0  # rows since this worker last asked for a checkpoint
_checkpoint_due = threading.Event()


def start(path: str, retention_seconds: float, write_lock: Lock) -> None:
    """The pool's initializer: open this worker's own connection to the store, keep the lock
    the workers take turns to write with, and start its checkpointing thread."""
    global _store, _write_lock
    # A commit that checkpoints can wait ~0.5 s for the disk, holding the write turn: the
    # checkpoints run on a thread of their own instead (SQLite lets them overlap writes).
    _store = TraceStore(path, retention_seconds, autocheckpoint=False)
    _write_lock = write_lock
    threading.Thread(target=_checkpoint_when_due, name="checkpoint", daemon=True).start()


@contextlib.contextmanager
def _write_turn() -> Iterator[None]:
    """This worker's turn to write. The turns only save time, so a worker that waits too
    long writes anyway (SQLite serialises the writers itself): one that exited or died
    holding the lock cannot stall the others."""
    acquired = _write_lock is not None and _write_lock.acquire(timeout=TURN_TIMEOUT_SECONDS)
    try:
        yield
    finally:
        if acquired and _write_lock is not None:
            _write_lock.release()


def _checkpoint_when_due() -> None:
    assert _store is not None
    while True:
        _checkpoint_due.wait()
        _checkpoint_due.clear()
        try:
            _store.checkpoint()  # the bulk, beside the writes (its own connection)
            with _write_turn():  # then what they added meanwhile, so that the WAL starts over
                _store.checkpoint()  # rather than growing through a long burst
        except Exception:  # e.g. disk full: the WAL keeps the rows; the next one retries
            log.exception("local X-Ray ingest worker: WAL checkpoint failed")


def work(datagrams: list[bytes], now: float) -> BatchResult:
    global _written
    assert _store is not None, "ingest worker used before its initializer ran"
    with gc_paused():
        result = ingest_batch(_store, datagrams, now, _write_turn())
    _written += result.stored
    if _written >= CHECKPOINT_ROWS:
        _written = 0
        _checkpoint_due.set()
    return result
