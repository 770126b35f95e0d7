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
from dataclasses import dataclass, field

from .documents import MAX_DATAGRAM_BYTES, warm_up
from .gcpause import gc_paused
from .ingest import BATCH_LIMIT, BatchResult, IngestPool, ingest_batch, prepare_workers
from .store import TraceStore

log = logging.getLogger(__name__)
# The kernel counts ~2.5 KiB per small datagram: 128 MiB holds a burst of ~50,000 segments
# while the ingest thread catches up (the memory is only used while the backlog exists).
RECEIVE_BUFFER_BYTES = 128 * 1024 * 1024
POOL_START_BATCH = 500  # a drained burst this big starts the ingest workers
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
    """Receives on one thread, draining the socket in bursts, until a big burst starts the
    worker processes (see ingest.py): from then on they read the socket themselves, and
    this thread keeps the counts from their results. Counts are updated once a batch is
    stored."""

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
            if self._thread.is_alive():  # still stopping the workers: leave that to it
                log.error("local X-Ray daemon: ingest still stopping after 30 s; not waiting")
                self.socket.close()
                return
        if self._pool is not None:  # the thread has stopped the workers, unless it failed
            self._pool.shutdown(self._record)
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
            pool = self._pool
            if pool is not None and pool.started:
                if stopping:
                    pool.shutdown(self._record)  # everything that had arrived is stored
                    return
                if pool.collect(0.1, self._record):
                    log.error("local X-Ray daemon: an ingest worker ended; receiving here")
                    pool.shutdown(self._record)  # a later burst starts them again
                elif not pool.busy() and self._stored_since_checkpoint >= CHECKPOINT_AFTER_ROWS:
                    self._checkpoint_when_idle(pool)
            else:
                readable, _, _ = select.select([self.socket], [], [], 0 if stopping else 0.1)
                if readable:
                    self._busy = True
                    try:
                        self._dispatch(self._drain())
                    finally:
                        self._busy = False
                elif stopping:
                    return  # everything that had arrived before stop() is stored
                elif self._stored_since_checkpoint >= CHECKPOINT_AFTER_ROWS:
                    self._checkpoint()  # idle for 0.1 s after a burst
            if time.monotonic() - last_purge > PURGE_EVERY_SECONDS:
                last_purge = time.monotonic()
                self._purge()

    def _checkpoint_when_idle(self, pool: IngestPool) -> None:
        """Checkpoint if the workers have been idle for 0.1 s (they wait 0.1 s at a time)."""
        readable, _, _ = select.select([self.socket], [], [], 0.1)
        if not readable and not pool.busy():
            self._checkpoint()

    def idle(self) -> bool:
        """Nothing waits in the socket and no burst is being ingested."""
        # Socket first, then the flags: a burst drained between the two checks sets _busy
        # (or a worker counts it taken) before it leaves the socket, and the counts are
        # updated before either is cleared.
        readable, _, _ = select.select([self.socket], [], [], 0)
        pool = self._pool
        return not readable and not self._busy and not (pool is not None and pool.busy())

    def _drain(self) -> list[bytes]:
        receive, datagrams = self.socket.recv, list[bytes]()
        while len(datagrams) < BATCH_LIMIT:
            try:
                datagrams.append(receive(MAX_DATAGRAM_BYTES))
            except BlockingIOError:
                break
            except OSError:
                log.exception("local X-Ray daemon: receive failed")
                break
        return datagrams

    def _dispatch(self, datagrams: list[bytes]) -> None:
        pool = self._pool
        if pool is not None and len(datagrams) >= POOL_START_BATCH:
            # A burst: the workers read the rest of it (and what follows) themselves,
            # while this thread ingests what it has drained.
            try:
                pool.start(self.socket)
            except Exception:  # e.g. no processes allowed here: ingest in this thread
                log.exception("local X-Ray daemon: ingest workers unavailable")
                pool.shutdown(self._record)
                self._pool = None
        with gc_paused():
            try:
                result = ingest_batch(self.store, datagrams, time.time())
            except Exception as error:  # a bug costs this batch, never the daemon's thread
                log.exception("local X-Ray daemon: lost %d datagrams", len(datagrams))
                count = len(datagrams)
                result = BatchResult(count, rejected=collections.Counter(internal=count))
                result.messages.append(f"internal: {error!r}"[:500])
            self._record(result)

    def _record(self, result: BatchResult) -> None:
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
