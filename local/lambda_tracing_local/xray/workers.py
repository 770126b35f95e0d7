"""The ingest worker processes' side (see ingest.py): each reads the daemon's socket itself,
ingests what it drained as one batch into its own store connection, and sends the daemon
the batch's counts.

Importing this module compiles the schema validators: the fork server imports it once, so
every worker forked from it starts with them compiled. Nothing else needs to import it.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import select
import signal
import socket
import threading
import time
from collections.abc import Iterator, MutableSequence
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event, Lock

from .documents import MAX_DATAGRAM_BYTES, warm_up
from .gcpause import gc_paused
from .ingest import BATCH_LIMIT, BatchResult, ingest_batch
from .store import TraceStore

log = logging.getLogger(__name__)
# Rows a worker writes between WAL checkpoints: with two workers, one per ~40,000 rows or
# ~60 MB of WAL, about where the daemon's own connections checkpoint (CHECKPOINT_PAGES).
CHECKPOINT_ROWS = 20_000
TURN_TIMEOUT_SECONDS = 5.0  # a write or a checkpoint's tail takes milliseconds
WAIT_SECONDS = 0.1  # between looks at the stop flag while the socket is quiet
MIN_BATCH = 200  # a batch gathers this many datagrams when they come quickly:
GATHER_SECONDS = 0.002  # each next one within this long

warm_up()
_store: TraceStore | None = None
_write_lock: Lock | None = None
_written = 0  # rows since this worker last asked for a checkpoint
_checkpoint_due = threading.Event()


def start(path: str, retention_seconds: float, write_lock: Lock) -> None:
    """Open this worker's own connection to the store, keep the lock the workers take turns
    to write with, and start its checkpointing thread."""
    global _store, _write_lock
    # A commit that checkpoints can wait ~0.5 s for the disk, holding the write turn: the
    # checkpoints run on a thread of their own instead (SQLite lets them overlap writes).
    _store = TraceStore(path, retention_seconds, autocheckpoint=False)
    _write_lock = write_lock
    threading.Thread(target=_checkpoint_when_due, name="checkpoint", daemon=True).start()


def serve(
    number: int,
    path: str,
    retention_seconds: float,
    write_lock: Lock,
    receiver: socket.socket,
    results: Connection,
    taken: MutableSequence[int],
    holding: MutableSequence[int],
    stopping: Event,
) -> None:
    """A worker process's life: wait for datagrams, drain them (up to BATCH_LIMIT) as one
    batch, ingest it, send its BatchResult on `results`; until `stopping` is set and the
    socket is empty. Before draining, `taken[number]` counts one batch more, so the daemon
    knows a batch is in hand until its result arrives (see IngestPool.busy); as it drains,
    `holding[number]` says how many datagrams it holds, which the daemon counts as lost if
    this process dies before sending the result. The socket is shared with the other
    workers and the daemon (non-blocking, one file description): the kernel hands each
    datagram to one of them."""
    # Ctrl+C in a terminal reaches the whole process group: the daemon stops the workers
    # itself (through `stopping`), once they have stored what they hold.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    start(path, retention_seconds, write_lock)
    receive, wait = receiver.recv, select.select
    with results:
        while True:
            stop = stopping.is_set()
            if not wait([receiver], [], [], 0 if stop else WAIT_SECONDS)[0]:
                if stop:
                    return  # everything that arrived before the stop is stored
                continue
            holding[number] = 0
            taken[number] += 1
            datagrams: list[bytes] = []
            while len(datagrams) < BATCH_LIMIT:
                try:
                    datagrams.append(receive(MAX_DATAGRAM_BYTES))
                    holding[number] = len(datagrams)  # ~0.1 us: kept exact if killed here
                except BlockingIOError:  # drained, or another worker took the rest
                    # A batch's transaction, write turn and result cost ~0.1 ms: in a burst,
                    # gather a batch worth that rather than take every few datagrams
                    if (
                        len(datagrams) >= MIN_BATCH
                        or not wait([receiver], [], [], GATHER_SECONDS)[0]
                    ):
                        break
                except OSError:
                    log.exception("local X-Ray ingest worker: receive failed")
                    break
            results.send(_work(datagrams))


def _work(datagrams: list[bytes]) -> BatchResult:
    global _written
    assert _store is not None, "ingest worker used before start()"
    try:
        with gc_paused():
            result = ingest_batch(_store, datagrams, time.time(), _write_turn())
    except Exception as error:  # a bug costs this batch, never the worker
        log.exception("local X-Ray ingest worker: lost %d datagrams", len(datagrams))
        count = len(datagrams)
        result = BatchResult(count, rejected=collections.Counter(internal=count))
        result.messages.append(f"internal: {error!r}"[:500])
    _written += result.stored
    if _written >= CHECKPOINT_ROWS:
        _written = 0
        _checkpoint_due.set()
    return result


@contextlib.contextmanager
def _write_turn() -> Iterator[None]:
    """This worker's turn to write. The turns only save time, so a worker that waits too
    long writes anyway (SQLite serialises the writers itself) and takes no more turns: one
    that died holding the lock stalls the others once, not at every batch."""
    global _write_lock
    lock = _write_lock
    acquired = lock is not None and lock.acquire(timeout=TURN_TIMEOUT_SECONDS)
    if lock is not None and not acquired:
        log.warning(
            "local X-Ray ingest worker: no write turn within %.0f s; writing without turns",
            TURN_TIMEOUT_SECONDS,
        )
        _write_lock = None
    try:
        yield
    finally:
        if acquired and lock is not None:
            lock.release()


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
