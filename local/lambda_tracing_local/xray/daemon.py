"""The X-Ray daemon's UDP side: receive datagrams, validate, store in batches.

Datagrams are drained from the socket in bursts of up to BATCH_LIMIT, validated, and written
one transaction per batch, so a batch is stored whole or counted as rejected whole.
"""

from __future__ import annotations

import collections
import logging
import os
import select
import socket
import sys
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

from .documents import MAX_DATAGRAM_BYTES, warm_up
from .gcpause import gc_paused
from .ingest import BatchResult, IngestPool, ingest_batch, prepare_workers
from .store import TraceStore

log = logging.getLogger(__name__)
# The kernel counts ~2.5 KiB per small datagram: 128 MiB holds a burst of ~50,000 segments
# while the ingest thread catches up (the memory is only used while the backlog exists).
RECEIVE_BUFFER_BYTES = 128 * 1024 * 1024
BATCH_LIMIT = 2000
POOL_START_BATCH = 500  # a drained burst this big starts the ingest workers
POOL_MIN_BATCH = 200  # once they run, batches for them gather this many when they can
GATHER_SECONDS = 0.002  # waiting at most this long for each next datagram
PENDING_BYTES_LIMIT = 64 * 1024 * 1024  # of datagrams waiting in memory for the workers
# Worker processes for bursts: one per core (the receiving thread needs little); none on a
# single core, where they would only add the cost of handing batches over.
CORES = os.cpu_count() or 1
DEFAULT_PROCESSES = min(CORES, 4) if CORES > 1 else 0
SO_RCVBUFFORCE = 33  # <asm-generic/socket.h>
PURGE_EVERY_SECONDS = 60.0
# After a burst of at least this many rows, the daemon's thread checkpoints the WAL once it
# has been idle for a moment: queries then read the database file alone (a reader ignores a
# WAL that is all copied back) instead of looking each page up in a WAL of ~70 MB, which
# cost GetServiceGraph over 100,000 segments ~0.1 s. Smaller writes are left to SQLite's own
# checkpoints (every CHECKPOINT_PAGES).
CHECKPOINT_AFTER_ROWS = 1000


@dataclass
class Stats:
    received: int = 0
    stored: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    # Parts of stored documents X-Ray keeps but cannot use, by kind (documents.Notes)
    noted_by_kind: dict[str, int] = field(default_factory=dict)
    unsampled: int = 0  # OTLP spans sent unsampled (T1U): counted in received, not stored

    def as_dict(self) -> dict[str, object]:
        return {
            "received": self.received,
            "stored": self.stored,
            "rejected": self.rejected,
            "rejected_by_reason": dict(self.rejected_by_reason),
            "noted_by_kind": dict(self.noted_by_kind),
            "unsampled": self.unsampled,
        }


class Daemon:
    """Receives on one thread, draining the socket in bursts; a big burst's batches go to
    worker processes (see ingest.py) while this thread goes back to receiving, so the
    kernel buffer rarely fills. Counts are updated once a batch is stored."""

    def __init__(
        self,
        address: tuple[str, int],
        store: TraceStore,
        receive_buffer_bytes: int = RECEIVE_BUFFER_BYTES,
        processes: int = DEFAULT_PROCESSES,
    ) -> None:
        self.store = store
        self.stats = Stats()
        self.changed = threading.Condition()
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._grow_receive_buffer(receive_buffer_bytes)
        self.socket.bind(address)
        self.socket.setblocking(False)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._logged_rejections = 0
        self._logged_notes = 0
        self._busy = False  # set while a drained burst is being ingested here
        self._pool: IngestPool | None = None
        if processes:
            self._pool = IngestPool(store.path, store.retention_seconds, processes)
        self._pending = 0  # batches handed to the pool and not yet counted
        self._pending_bytes = 0  # their size
        self._stored_since_checkpoint = 0
        self.checkpoints = 0  # done after bursts: see CHECKPOINT_AFTER_ROWS

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.socket.getsockname()[:2]
        return str(host), int(port)

    @property
    def workers_started(self) -> bool:
        """Whether a burst has started the ingest worker processes."""
        return self._pool is not None and self._pool.started

    def _grow_receive_buffer(self, size: int) -> None:
        # SO_RCVBUFFORCE passes rmem_max when we are allowed to (CAP_NET_ADMIN); otherwise
        # SO_RCVBUF gives what rmem_max allows. Python names no constant for the former.
        force = SO_RCVBUFFORCE if sys.platform.startswith("linux") else None
        for option in (force, socket.SO_RCVBUF):
            if option is None:
                continue
            try:
                self.socket.setsockopt(socket.SOL_SOCKET, option, size)
                return
            except OSError:
                continue

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="local-xray-udp", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._pool is not None:
            self._pool.shutdown()  # every batch handed over is stored and counted first
        self.socket.close()

    def _serve(self) -> None:
        if self._pool is not None:
            try:
                prepare_workers()  # boots beside the warm-up below
            except Exception:  # then the first burst starts it, or is ingested here
                log.exception("local X-Ray daemon: could not prepare ingest workers")
        warm_up()  # datagrams wait in the kernel buffer meanwhile
        last_purge = time.monotonic()
        while True:
            stopping = self._stopping.is_set()
            readable, _, _ = select.select([self.socket], [], [], 0 if stopping else 0.1)
            if readable:
                self._busy = True
                try:
                    self._dispatch(self._drain())
                finally:
                    self._busy = False
            elif stopping:
                return  # everything that had arrived before stop() is stored or handed over
            elif self._stored_since_checkpoint >= CHECKPOINT_AFTER_ROWS and self._pending == 0:
                self._checkpoint()  # idle for 0.1 s after a burst
            if time.monotonic() - last_purge > PURGE_EVERY_SECONDS:
                last_purge = time.monotonic()
                self._purge()

    def idle(self) -> bool:
        """Nothing waits in the socket and no burst is being ingested."""
        # Socket first, then the flags: a burst drained between the two checks sets _busy
        # before it leaves the socket, and _pending before _busy is cleared.
        readable, _, _ = select.select([self.socket], [], [], 0)
        return not readable and not self._busy and self._pending == 0

    def _drain(self) -> list[bytes]:
        receive, datagrams = self.socket.recv, list[bytes]()
        # Handing a batch to the workers costs ~0.1 ms: during a burst, wait a moment for a
        # batch worth sending rather than send every few datagrams that have arrived.
        gather = self.workers_started
        while len(datagrams) < BATCH_LIMIT:
            try:
                datagrams.append(receive(MAX_DATAGRAM_BYTES))
            except BlockingIOError:
                if not gather or len(datagrams) >= POOL_MIN_BATCH:
                    break
                if not select.select([self.socket], [], [], GATHER_SECONDS)[0]:
                    break
            except OSError:
                log.exception("local X-Ray daemon: receive failed")
                break
        return datagrams

    def _dispatch(self, datagrams: list[bytes]) -> None:
        pool, now = self._pool, time.time()
        # Batches queue for the workers in this process's memory (up to PENDING_BYTES_LIMIT)
        # while this thread goes on receiving; past that it ingests here, which slows the
        # receiving down and leaves the rest of the burst to the kernel buffer.
        size = sum(map(len, datagrams))
        if (
            pool is not None
            and (pool.started or len(datagrams) >= POOL_START_BATCH)
            and self._pending_bytes + size <= PENDING_BYTES_LIMIT
        ):
            with self.changed:
                self._pending += 1
                self._pending_bytes += size
            try:
                future = pool.submit(datagrams, now)
            except Exception:  # e.g. no processes allowed here: ingest in this thread
                log.exception("local X-Ray daemon: ingest workers unavailable")
                with self.changed:
                    self._pending -= 1
                    self._pending_bytes -= size
                self._pool = None
            else:
                count = len(datagrams)
                future.add_done_callback(lambda done: self._finished(done, count, size))
                return
        with gc_paused():
            try:
                result = ingest_batch(self.store, datagrams, now)
            except Exception as error:  # a bug costs this batch, never the daemon's thread
                log.exception("local X-Ray daemon: lost %d datagrams", len(datagrams))
                count = len(datagrams)
                result = BatchResult(count, rejected=collections.Counter(internal=count))
                result.messages.append(f"internal: {error!r}"[:500])
            self._record(result)

    def _finished(self, future: Future[BatchResult], count: int, size: int) -> None:
        try:
            result = future.result()
        except Exception as error:  # a worker died: its batch is lost, and counted
            log.error("local X-Ray daemon: an ingest worker lost %d datagrams: %r", count, error)
            result = BatchResult(count, rejected=collections.Counter(internal=count))
            if self._pool is not None:
                self._pool.discard()
        self._record(result, finished_size=size)

    def _record(self, result: BatchResult, finished_size: int | None = None) -> None:
        rejected = sum(result.rejected.values())
        with self.changed:  # batches finish on this thread and on the pool's
            if result.store_error:
                log.error("local X-Ray daemon: %s", result.store_error)
            for message in result.messages:
                self._log_rejection(message)
            self._logged_rejections += rejected - len(result.messages)  # counted, not described
            self.stats.received += result.received
            self.stats.stored += result.stored
            self.stats.rejected += rejected
            self.stats.unsampled += result.unsampled
            self._stored_since_checkpoint += result.stored
            reasons = self.stats.rejected_by_reason
            for kind, count in result.rejected.items():
                reasons[kind] = reasons.get(kind, 0) + count
            self._count_notes(result.noted, result.notes)
            if finished_size is not None:
                self._pending -= 1
                self._pending_bytes -= finished_size
            self.changed.notify_all()

    def _log_rejection(self, reason: str) -> None:
        # A flood of garbage must not become a flood of log lines.
        self._logged_rejections += 1
        if self._logged_rejections <= 100 or self._logged_rejections % 10_000 == 0:
            log.warning(
                "local X-Ray daemon rejected a datagram (%d so far): %s",
                self._logged_rejections,
                reason,
            )

    def _count_notes(self, noted: collections.Counter[str], notes: list[str]) -> None:
        for kind, count in noted.items():
            self.stats.noted_by_kind[kind] = self.stats.noted_by_kind.get(kind, 0) + count
        for note in notes:
            self._logged_notes += 1
            if self._logged_notes <= 100 or self._logged_notes % 10_000 == 0:
                log.info("local X-Ray kept a document X-Ray would keep, but ignores %s", note)

    def _checkpoint(self) -> None:
        with self.changed:
            self._stored_since_checkpoint = 0
        try:
            self.store.checkpoint()
        except Exception:  # e.g. disk full: the WAL keeps the rows; SQLite retries later
            log.exception("local X-Ray daemon: WAL checkpoint failed")
        with self.changed:
            self.checkpoints += 1
            self.changed.notify_all()

    def _purge(self) -> None:
        try:
            removed = self.store.purge_expired()
        except Exception:
            log.exception("local X-Ray daemon: retention purge failed")
            return
        if removed:
            log.info("local X-Ray: removed %d documents past retention", removed)

    def record_api_documents(self, stored: int, result: BatchResult) -> None:
        """PutTraceSegments counts in the same stats as UDP, its rejections by reason."""
        rejected = sum(result.rejected.values())
        with self.changed:
            self.stats.received += stored + rejected
            self.stats.stored += stored
            self.stats.rejected += rejected
            reasons = self.stats.rejected_by_reason
            for kind, count in result.rejected.items():
                reasons[kind] = reasons.get(kind, 0) + count
            for message in result.messages:
                log.warning("local X-Ray API rejected a segment document: %s", message)
            self._count_notes(result.noted, result.notes)
            self.changed.notify_all()

    def record_otlp_spans(self, stored: int, rejected: int) -> None:
        """OTLP/HTTP spans count in the same stats as UDP, their rejections as "otlp"."""
        with self.changed:
            self.stats.received += stored + rejected
            self.stats.stored += stored
            self.stats.rejected += rejected
            if rejected:
                reasons = self.stats.rejected_by_reason
                reasons["otlp"] = reasons.get("otlp", 0) + rejected
            self.changed.notify_all()

    def kernel_drops(self) -> int | None:
        """Datagrams the kernel dropped for this socket (Linux /proc/net/udp), else None."""
        inode = os.fstat(self.socket.fileno()).st_ino
        try:
            with open("/proc/net/udp", encoding="ascii") as table:
                next(table)
                for line in table:
                    columns = line.split()
                    if len(columns) >= 13 and columns[9] == str(inode):
                        return int(columns[-1])
        except OSError:
            return None
        return None
