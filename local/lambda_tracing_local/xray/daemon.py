"""The X-Ray daemon's UDP side: receive datagrams, validate, store in batches.

Datagrams are drained from the socket in bursts, validated, and written one transaction per
burst, so a burst is stored whole or counted as rejected whole.
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

from .documents import MAX_DATAGRAM_BYTES, InvalidDocument, parse_datagram, warm_up
from .gcpause import gc_paused
from .store import TraceStore, row_for

log = logging.getLogger(__name__)
# The kernel counts ~2.5 KiB per small datagram: 128 MiB holds a burst of ~50,000 segments
# while the ingest thread catches up (the memory is only used while the backlog exists).
RECEIVE_BUFFER_BYTES = 128 * 1024 * 1024
BATCH_LIMIT = 2000
SO_RCVBUFFORCE = 33  # <asm-generic/socket.h>
PURGE_EVERY_SECONDS = 60.0


@dataclass
class Stats:
    received: int = 0
    stored: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "received": self.received,
            "stored": self.stored,
            "rejected": self.rejected,
            "rejected_by_reason": dict(self.rejected_by_reason),
        }


class Daemon:
    """Receives and ingests on one thread: draining the socket in bursts between batches keeps
    the GIL from ping-ponging per datagram, and the kernel buffer absorbs a burst meanwhile."""

    def __init__(
        self,
        address: tuple[str, int],
        store: TraceStore,
        receive_buffer_bytes: int = RECEIVE_BUFFER_BYTES,
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
        self._busy = False  # set while a drained burst is being ingested

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.socket.getsockname()[:2]
        return str(host), int(port)

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
        self.socket.close()

    def _serve(self) -> None:
        warm_up()  # datagrams wait in the kernel buffer meanwhile
        last_purge = time.monotonic()
        while True:
            stopping = self._stopping.is_set()
            readable, _, _ = select.select([self.socket], [], [], 0 if stopping else 0.1)
            if readable:
                self._busy = True
                try:
                    with gc_paused():
                        self._ingest(self._drain())
                finally:
                    self._busy = False
            elif stopping:
                return  # everything that had arrived before stop() is stored
            if time.monotonic() - last_purge > PURGE_EVERY_SECONDS:
                last_purge = time.monotonic()
                self._purge()

    def idle(self) -> bool:
        """Nothing waits in the socket and no burst is being ingested."""
        # Socket first, then the flag: a burst drained between the two checks sets the flag
        # before it leaves the socket, so it is never missed.
        readable, _, _ = select.select([self.socket], [], [], 0)
        return not readable and not self._busy

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

    def _ingest(self, datagrams: list[bytes]) -> None:
        rows, rejected = list[tuple](), collections.Counter[str]()
        now = time.time()
        for datagram in datagrams:
            try:
                document, text = parse_datagram(datagram)
                rows.append(row_for(document, now, text))
            except InvalidDocument as error:
                rejected[error.kind] += 1
                self._log_rejection(error)
        try:
            if rows:
                self.store.write_rows(rows)
        except Exception:  # e.g. disk full: count the batch as rejected, keep serving
            log.exception("local X-Ray daemon could not store %d documents", len(rows))
            rejected["store"] += len(rows)
            rows = []
        with self.changed:
            self.stats.received += len(datagrams)
            self.stats.stored += len(rows)
            self.stats.rejected += sum(rejected.values())
            reasons = self.stats.rejected_by_reason
            for kind, count in rejected.items():
                reasons[kind] = reasons.get(kind, 0) + count
            self.changed.notify_all()

    def _log_rejection(self, error: InvalidDocument) -> None:
        # A flood of garbage must not become a flood of log lines.
        self._logged_rejections += 1
        if self._logged_rejections <= 100 or self._logged_rejections % 10_000 == 0:
            log.warning(
                "local X-Ray daemon rejected a datagram (%d so far): %s",
                self._logged_rejections,
                error,
            )

    def _purge(self) -> None:
        try:
            removed = self.store.purge_expired()
        except Exception:
            log.exception("local X-Ray daemon: retention purge failed")
            return
        if removed:
            log.info("local X-Ray: removed %d documents past retention", removed)

    def record_api_documents(self, stored: int, rejected: int) -> None:
        """PutTraceSegments counts in the same stats as UDP."""
        with self.changed:
            self.stats.received += stored + rejected
            self.stats.stored += stored
            self.stats.rejected += rejected
            if rejected:
                reasons = self.stats.rejected_by_reason
                reasons["api"] = reasons.get("api", 0) + rejected
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
