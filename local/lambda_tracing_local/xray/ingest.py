"""Turning a batch of daemon datagrams into stored rows, in this process or in workers.

The work per datagram (JSON parsing, X-Ray's checks, the graph projection, the row: ~25 us
on CPython) holds the GIL, so one thread tops out near 40,000 segments/s. Until a burst, the
daemon's thread receives and ingests alone (starting a worker costs far more than a few
documents); the first burst starts worker processes that read the daemon's socket
themselves, each draining a batch, validating it and writing it to the store in one
transaction (taking turns to write: see workers.py), and sending the daemon its counts.
"""

from __future__ import annotations

import collections
import contextlib
import importlib
import logging
import multiprocessing
import multiprocessing.context
import multiprocessing.process
import socket
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, cast

from .admission import admit_text
from .documents import SDK_HEADER_LINE, InvalidDocument, Notes, datagram_body
from .store import TraceStore, row_for

log = logging.getLogger(__name__)
BATCH_LIMIT = 2000  # datagrams drained at once: one transaction
MAX_REJECTION_MESSAGES = 100  # per batch; the rest are counted, not described
SHUTDOWN_SECONDS = 20.0  # for the workers to store what arrived before a stop (the
# daemon's stop() waits 30 s for its thread, which waits for them)
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
    """Worker processes that read the daemon's socket themselves (see workers.serve), started
    on first use, each sending its batches' results back on a pipe of its own. Handing the
    datagrams over instead (the receiving thread reading each one, pickling batches into a
    pipe, a worker unpickling them) cost ~15k instructions a segment and the system time of
    copying every datagram twice more."""

    def __init__(self, path: str, retention_seconds: float, processes: int) -> None:
        self.processes = processes
        self._arguments = (path, retention_seconds)
        self._workers: list[multiprocessing.process.BaseProcess] = []
        self._results: dict[int, Connection] = {}  # by worker, while it runs
        self._taken: Any = None  # batches each worker has taken from the socket (shared)
        self._holding: Any = None  # datagrams in each worker's batch in hand (shared)
        self._recorded: list[int] = []  # of them, those whose result has been read
        self._stopping: Any = None
        self._write_lock: Any = None

    @property
    def started(self) -> bool:
        return bool(self._workers)

    def start(self, receiver: socket.socket) -> None:
        """Start the workers reading `receiver` (a non-blocking socket)."""
        workers = importlib.import_module(WORKER_MODULE)
        context: Any = _context()  # its Process: the typeshed's BaseContext names none
        # Workers take turns to write through this lock: one waiting on SQLite's own lock
        # sleeps in steps of 1 to 100 ms, long after the other has committed.
        # Kept here while the pool runs: the parent's copy going unlinks the semaphores a
        # starting worker has yet to open.
        self._write_lock = write_lock = context.Lock()
        self._stopping = context.Event()
        self._taken = context.RawArray("q", self.processes)
        self._holding = context.RawArray("q", self.processes)
        self._recorded = [0] * self.processes
        for number in range(self.processes):  # on a failure, the caller shuts the pool down
            reader, writer = context.Pipe(duplex=False)
            process = context.Process(
                target=workers.serve,
                args=(
                    number,
                    *self._arguments,
                    write_lock,
                    receiver,
                    writer,
                    self._taken,
                    self._holding,
                    self._stopping,
                ),
                name=f"local-xray-ingest-{number}",
                daemon=True,
            )
            process.start()
            writer.close()  # the worker's end: its exit is then this end's EOF
            self._workers.append(process)
            self._results[number] = reader

    def busy(self) -> bool:
        """Whether a worker has taken datagrams whose result has not been read yet."""
        taken = self._taken
        return taken is not None and any(
            taken[number] != recorded for number, recorded in enumerate(self._recorded)
        )

    def collect(self, timeout: float, record: Callable[[BatchResult], None]) -> int:
        """Pass each result sent within `timeout` to `record` (before busy() stops counting
        its batch); how many workers have ended meanwhile. A worker that ends while the pool
        runs has died: the caller shuts the pool down."""
        ended = 0
        readers = {reader: number for number, reader in self._results.items()}
        for ready in wait(list(readers), timeout):
            reader = cast(Connection, ready)
            number = readers[reader]
            try:
                while True:
                    record(reader.recv())
                    self._recorded[number] += 1
                    if not reader.poll():
                        break
            except (EOFError, OSError):  # it has ended
                ended += 1
                del self._results[number]
                reader.close()
                self._count_lost(number, record)
        return ended

    def _count_lost(self, number: int, record: Callable[[BatchResult], None]) -> None:
        """A batch worker `number` took and never sent a result for (it died, or was stopped
        at the deadline) is lost: counted as rejected, so received = stored + rejected."""
        if self._taken[number] == self._recorded[number]:
            return
        lost = self._holding[number]
        self._recorded[number] = self._taken[number]
        log.error("local X-Ray: ingest worker %d ended holding %d datagrams", number, lost)
        if lost:
            result = BatchResult(lost, rejected=collections.Counter(internal=lost))
            result.messages.append(f"internal: lost with ingest worker {number} ({lost})")
            record(result)

    def shutdown(self, record: Callable[[BatchResult], None]) -> None:
        """Stop the workers once the socket is empty (every datagram that arrived before
        this call is ingested), passing the results not collected yet to `record`."""
        if self._stopping is not None:
            self._stopping.set()
        deadline = time.monotonic() + SHUTDOWN_SECONDS
        while self._results and time.monotonic() < deadline:
            self.collect(0.1, record)
        for process in self._workers:
            process.join(2)
            if process.is_alive():  # stuck: what it holds is lost, the daemon stops anyway
                process.terminate()
                process.join(2)
        # The results the stopped ones sent before the end; then their batches in hand are
        # counted lost (each reader is at its end once its process is gone).
        for _ in range(10):
            if not self._results:
                break
            self.collect(0.1, record)
        for number, reader in self._results.items():  # a process that outlived terminate()
            reader.close()
            self._count_lost(number, record)
        self._workers, self._results = [], {}
        self._taken = self._holding = self._stopping = self._write_lock = None
        self._recorded = []
