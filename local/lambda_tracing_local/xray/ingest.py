"""Turning a batch of daemon datagrams into stored rows, in this process or in workers.

The work per datagram (JSON parsing, schema validation, the graph projection: ~50 us on
CPython) holds the GIL, so one thread tops out near 15,000 segments/s. A burst is therefore
spread over worker processes, each validating its batches and writing them to the store in
one transaction per batch (SQLite's WAL serialises the writers); the daemon's thread only
receives and keeps the counts. Small batches are ingested where they arrive: starting a
worker costs far more than a few documents.
"""

from __future__ import annotations

import collections
import multiprocessing
import sys
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field

from .documents import InvalidDocument, parse_datagram, warm_up
from .gcpause import gc_paused
from .store import TraceStore, row_for

MAX_REJECTION_MESSAGES = 100  # per batch; the rest are counted, not described


@dataclass
class BatchResult:
    received: int
    stored: int = 0
    rejected: collections.Counter[str] = field(default_factory=collections.Counter)
    messages: list[str] = field(default_factory=list)  # why, for the first rejections
    store_error: str | None = None  # set when the batch's transaction failed


def ingest_batch(store: TraceStore, datagrams: list[bytes], now: float) -> BatchResult:
    """Validate every datagram and store the valid ones in one transaction."""
    result = BatchResult(len(datagrams))
    rows: list[tuple] = []
    rejected, messages = result.rejected, result.messages
    for datagram in datagrams:
        try:
            document, text = parse_datagram(datagram)
            rows.append(row_for(document, now, text))
        except InvalidDocument as error:
            rejected[error.kind] += 1
            if len(messages) < MAX_REJECTION_MESSAGES:
                messages.append(str(error))
        except Exception as error:  # a bug must cost one document, never the daemon
            rejected["internal"] += 1
            if len(messages) < MAX_REJECTION_MESSAGES:
                messages.append(f"internal: {error!r}"[:500])
    if rows:
        try:
            store.write_rows(rows)
        except Exception as error:  # e.g. disk full: the batch is rejected whole
            result.store_error = f"could not store {len(rows)} documents: {error!r}"
            rejected["store"] += len(rows)
            return result
    result.stored = len(rows)
    return result


# -- worker processes -----------------------------------------------------------------------

_worker_store: TraceStore | None = None


def _start_worker(path: str, retention_seconds: float) -> None:
    global _worker_store
    warm_up()
    _worker_store = TraceStore(path, retention_seconds)


def _work(datagrams: list[bytes], now: float) -> BatchResult:
    assert _worker_store is not None, "ingest worker used before its initializer ran"
    with gc_paused():
        return ingest_batch(_worker_store, datagrams, now)


def _context() -> multiprocessing.context.BaseContext:
    # forkserver: workers fork from a clean server with this module loaded (fast, and never
    # a fork of a process with threads); spawn where there is none.
    if sys.platform.startswith("linux"):
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


class IngestPool:
    """Worker processes writing to the store at `path`, started on first use."""

    def __init__(self, path: str, retention_seconds: float, processes: int) -> None:
        self.processes = processes
        self._arguments = (path, retention_seconds)
        self._executor: ProcessPoolExecutor | None = None

    @property
    def started(self) -> bool:
        return self._executor is not None

    def submit(self, datagrams: list[bytes], now: float) -> Future[BatchResult]:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                self.processes,
                mp_context=_context(),
                initializer=_start_worker,
                initargs=self._arguments,
            )
        return self._executor.submit(_work, datagrams, now)

    def discard(self) -> None:
        """Forget a broken pool (a worker died); the next submit starts a new one."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        """Wait for every submitted batch, then stop the workers."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
