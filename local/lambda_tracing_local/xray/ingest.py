"""Turning a batch of daemon datagrams into stored rows, in this process or in workers.

The work per datagram (JSON parsing, schema validation, the graph projection: ~50 us on
CPython) holds the GIL, so one thread tops out near 15,000 segments/s. A burst is therefore
spread over worker processes, each validating its batches and writing them to the store in
one transaction per batch (taking turns to write: see workers.py); the daemon's thread only
receives and keeps the counts. Small batches are ingested where they arrive: starting a
worker costs far more than a few documents.
"""

from __future__ import annotations

import collections
import contextlib
import importlib
import multiprocessing
import multiprocessing.context
import sys
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from .admission import admit_text
from .documents import SDK_HEADER_LINE, InvalidDocument, Notes, datagram_body
from .store import TraceStore, row_for

MAX_REJECTION_MESSAGES = 100  # per batch; the rest are counted, not described
NO_LOCK: AbstractContextManager[Any] = contextlib.nullcontext()  # writing alone


@dataclass
class BatchResult:
    received: int
    stored: int = 0
    rejected: collections.Counter[str] = field(default_factory=collections.Counter)
    messages: list[str] = field(default_factory=list)  # why, for the first rejections
    # Parts of stored documents X-Ray keeps but cannot use (documents.Notes), by kind
    noted: collections.Counter[str] = field(default_factory=collections.Counter)
    notes: list[str] = field(default_factory=list)  # the first of them, described
    unsampled: int = 0  # OTLP spans sent unsampled (T1U): counted, never stored
    store_error: str | None = None  # set when the batch's transaction failed


def ingest_batch(
    store: TraceStore,
    datagrams: list[bytes],
    now: float,
    write_lock: AbstractContextManager[Any] = NO_LOCK,
) -> BatchResult:
    """Validate every datagram and store the valid ones in one transaction, holding
    `write_lock` (if given) only while writing."""
    result = BatchResult(len(datagrams))
    rows: list[tuple] = []
    rejected, messages = result.rejected, result.messages
    notes = Notes()
    for datagram in datagrams:
        try:
            header, newline, text = datagram.partition(b"\n")
            if header != SDK_HEADER_LINE or not newline:  # datagram_body's common case inline
                text = datagram_body(datagram)
            document, projection = admit_text(text, notes)
            rows.append(row_for(document, now, text, projection))
        except InvalidDocument as error:
            # An OTLP datagram (behind the same header line) fails as a segment document
            # first: only then is it looked at as OTLP, so documents pay nothing for it.
            if error.code != "InvalidHeader" and _is_otlp(datagram):
                _take_otlp(datagram, now, result, rows)
                continue
            rejected[error.kind] += 1
            if len(messages) < MAX_REJECTION_MESSAGES:
                messages.append(f"json: {error}")  # the format named, as OTLP's are
        except Exception as error:  # a bug must cost one document, never the daemon
            rejected["internal"] += 1
            if len(messages) < MAX_REJECTION_MESSAGES:
                messages.append(f"internal: {error!r}"[:500])
    for kind, note in notes:
        result.noted[kind] += 1
        if len(result.notes) < MAX_REJECTION_MESSAGES:
            result.notes.append(note)
    if rows:
        try:
            with write_lock:
                store.write_rows(rows)
        except Exception as error:  # e.g. disk full: the batch is rejected whole
            result.store_error = f"could not store {len(rows)} documents: {error!r}"
            rejected["store"] += len(rows)
            return result
    result.stored = len(rows)
    return result


def _is_otlp(datagram: bytes) -> bool:
    body = datagram.partition(b"\n")[2]  # ADOT's framing, as otlp.decode reads it
    return body[:3] in (b"T1S", b"T1U") or body[:2] == b"M1"


def _take_otlp(datagram: bytes, now: float, result: BatchResult, rows: list[tuple]) -> None:
    """Its spans counted as documents are: each one received, then stored or rejected."""
    from .otlp.decode import OtlpError  # protobuf is loaded on the first OTLP datagram
    from .otlp.intake import take_datagram_body

    try:
        intake = take_datagram_body(datagram.partition(b"\n")[2], now)
    except OtlpError as error:
        result.rejected["otlp"] += 1
        if len(result.messages) < MAX_REJECTION_MESSAGES:
            result.messages.append(str(error)[:500])
        return
    except Exception as error:  # a bug costs this datagram, as on the JSON path
        result.rejected["internal"] += 1
        if len(result.messages) < MAX_REJECTION_MESSAGES:
            result.messages.append(f"internal: otlp: {error!r}"[:500])
        return
    result.received += intake.spans - 1
    result.unsampled += intake.unsampled
    rows.extend(intake.rows)
    if intake.rejected:
        result.rejected["otlp"] += intake.rejected
        room = MAX_REJECTION_MESSAGES - len(result.messages)
        result.messages.extend(message[:500] for message in intake.messages[:room])


# -- worker processes -----------------------------------------------------------------------

WORKER_MODULE = f"{__package__}.workers"


def _context() -> multiprocessing.context.BaseContext:
    # forkserver: workers fork from a clean server process (never from this one, which has
    # threads) that has already imported the worker module and compiled the schema, so a
    # worker is ready in milliseconds; spawn where there is no fork server.
    if sys.platform.startswith("linux"):
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([WORKER_MODULE])
        return context
    return multiprocessing.get_context("spawn")


def prepare_workers() -> None:
    """Start the fork server now (it loads in the background; once per process), so that
    the first burst does not wait ~1 s for it."""
    if sys.platform.startswith("linux"):
        _context()
        from multiprocessing import forkserver

        forkserver.ensure_running()


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
        workers = importlib.import_module(WORKER_MODULE)
        if self._executor is None:
            context = _context()
            # Workers take turns to write through this lock: one waiting on SQLite's own
            # lock sleeps in steps of 1 to 100 ms, long after the other has committed.
            write_lock = context.Lock()
            self._executor = ProcessPoolExecutor(
                self.processes,
                mp_context=context,
                initializer=workers.start,
                initargs=(*self._arguments, write_lock),
            )
        future: Future[BatchResult] = self._executor.submit(workers.work, datagrams, now)
        return future

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
