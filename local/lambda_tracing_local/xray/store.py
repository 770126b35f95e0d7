"""The trace store: one SQLite file in WAL mode, one row per segment or streamed subsegment.

Each row holds the whole document as received, so a document is either stored whole or not
at all; a completed document replaces its in-progress version, never the other way round.
"""

from __future__ import annotations

import json
import marshal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any

from . import lone
from .documents import Document, InvalidDocument
from .graph import PROJECTION_VERSION, Projection, project

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    trace_id    TEXT NOT NULL,
    id          TEXT NOT NULL,
    parent_id   TEXT,
    streamed    INTEGER NOT NULL,   -- 1 for a subsegment sent apart from its segment
    start_time  REAL NOT NULL,
    end_time    REAL,
    in_progress INTEGER NOT NULL,
    received_at REAL NOT NULL,
    document    BLOB NOT NULL,     -- the JSON text as received (UTF-8 bytes or text)
    graph       BLOB NOT NULL,     -- graph.project(document), marshalled: see PROJECTION_FORMAT
    lone_shape  INTEGER,           -- lone.columns(projection): for a root segment the graph
    lone_calls  BLOB,              -- can add up in bulk when its trace is alone; else NULL
    UNIQUE (trace_id, id)
);  -- a rowid table: appends are ~4x cheaper than a clustered key for rows this wide
CREATE TABLE IF NOT EXISTS lone_shapes (id INTEGER PRIMARY KEY, shape BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS documents_by_start ON documents (start_time);
-- What purge_expired reads instead of an index on received_at (~5k instructions a row to
-- keep): a row per write, its time and the largest rowid once written. See purge_expired.
CREATE TABLE IF NOT EXISTS arrivals (received_at REAL NOT NULL, last_rowid INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS arrivals_by_time ON arrivals (received_at);
DROP INDEX IF EXISTS documents_by_received;
"""
# A store from before arrivals: the table and one mark covering every row it holds (if any),
# in one transaction (see purge_expired)
FIRST_ARRIVAL = """
BEGIN;
CREATE TABLE arrivals (received_at REAL NOT NULL, last_rowid INTEGER NOT NULL);
INSERT INTO arrivals SELECT min(received_at), max(rowid) FROM documents HAVING count(*) > 0;
COMMIT;
"""
ARRIVAL = "INSERT INTO arrivals SELECT ?, max(rowid) FROM documents"

ROW_VALUES = "(?, ?, nullif(?, ''), ?, ?, ?, ?, ?, ?, ?, nullif(?, 0), nullif(?, x''))"
ON_CONFLICT = """
ON CONFLICT (trace_id, id) DO UPDATE SET
    parent_id = excluded.parent_id, streamed = excluded.streamed,
    start_time = excluded.start_time, end_time = excluded.end_time,
    in_progress = excluded.in_progress, received_at = excluded.received_at,
    document = excluded.document, graph = excluded.graph,
    lone_shape = excluded.lone_shape, lone_calls = excluded.lone_calls
WHERE documents.in_progress = 1 OR excluded.in_progress = 0
"""


def upsert(rows: int) -> str:
    """An INSERT of `rows` rows; SQLite upserts them one after the other, as separate
    statements would (a row conflicting with one before it in the same statement too)."""
    return f"INSERT INTO documents VALUES {', '.join([ROW_VALUES] * rows)} {ON_CONFLICT}"


# Rows per INSERT, largest first: one statement of 50 rows costs ~11k instructions a row
# less than 50 of one (a statement's start, reset and end once, not per row). 50 x 12
# values stay under the oldest SQLite's limit of 999 bound values per statement.
CHUNK_ROWS = (50, 10, 1)
_UPSERTS = {rows: upsert(rows) for rows in CHUNK_ROWS}

DEFAULT_RETENTION_SECONDS = 7 * 24 * 3600.0
# Checkpoint every 4096 pages of WAL (64 MiB of a new store's 16 KiB pages, see _connect; 16
# MiB of an older store's 4 KiB) rather than SQLite's 1000: a burst's index pages are copied
# and synced once instead of over and over (halves a burst's write time).
CHECKPOINT_PAGES = 4096
PAGE_BYTES = 16384
# Projections are a cache kept in marshal's format (6x faster to load than JSON, which is
# what makes GetServiceGraph over 100,000 segments quick). Its format belongs to the Python
# version, so a store opened by another version or projection layout rebuilds them.
# Version 2, without the back-references of 3 and later: a projection repeats few objects,
# and tracking them cost more than they save (dumps 35%, loads 45% fewer instructions).
MARSHAL_VERSION = 2
# lone2: the lone columns' layout (lone.py: shapes by a 64-bit digest id, calls packed with
# millis and outcome in one int64); a store with another has its columns rewritten once.
PROJECTION_FORMAT = f"{PROJECTION_VERSION}/marshal{MARSHAL_VERSION}/lone2/py{sys.version_info[:2]}"


def row_for(
    document: Document,
    received_at: float,
    text: str | bytes | None = None,
    projection: Projection | None = None,
) -> tuple:
    """The row for a validated document; `text` is the JSON it was parsed from, if at hand
    (stored as received: re-encoding would cost as much as parsing), and `projection` its
    graph.project(), if at hand."""
    if projection is None:
        projection = project(document)
    shape, calls = lone.columns(projection)
    start = document["start_time"]
    return (
        document["trace_id"],
        document["id"],
        document.get("parent_id") or "",  # NULL (see UPSERT): binding None costs as bytes do
        1 if document.get("type") == "subsegment" else 0,
        start if start.__class__ is float else float(start),
        document.get("end_time"),
        1 if document.get("in_progress") else 0,
        received_at,
        # (_blob's work inline for the daemon's bytes)
        bytearray(text)
        if text.__class__ is bytes
        else json.dumps(document, separators=(",", ":"))
        if text is None
        else text,
        bytearray(marshal.dumps(projection, MARSHAL_VERSION)),
        NO_SHAPE if shape is None else shape,
        NO_BLOB if calls is None else calls,
    )


NO_BLOB = bytearray()  # NULL (see UPSERT)
NO_SHAPE = 0  # likewise (lone.columns gives no shape id 0)


class TraceStore:
    """Thread-safe: each thread gets its own connection; WAL lets readers run beside the writer."""

    def __init__(
        self,
        path: str | Path,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        autocheckpoint: bool = True,
    ):
        """With autocheckpoint=False, commits never copy the WAL into the database (which
        can wait ~0.5 s on the disk): the owner calls checkpoint() when it suits it."""
        self.path = str(path)
        self.retention_seconds = retention_seconds
        self.autocheckpoint = autocheckpoint
        self._local = threading.local()
        self._connections: dict[threading.Thread, sqlite3.Connection] = {}
        self._lock = threading.Lock()
        self._shapes_written: set[int | None] = {NO_SHAPE}  # lone shapes known to be stored
        connection = self._connect()
        columns = {row[1] for row in connection.execute("PRAGMA table_info(documents)")}
        if columns and "graph" not in columns:
            self.close()
            raise RuntimeError(
                f"{self.path} was written by an older local X-Ray: delete it or choose another --db"
            )
        if columns and "lone_shape" not in columns:  # filled in by _refresh_projections
            with connection:
                connection.execute("ALTER TABLE documents ADD COLUMN lone_shape INTEGER")
                connection.execute("ALTER TABLE documents ADD COLUMN lone_calls BLOB")
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        if "documents" in tables and "arrivals" not in tables:
            connection.executescript(FIRST_ARRIVAL)
        connection.executescript(SCHEMA)
        self._refresh_projections()

    def _refresh_projections(self) -> None:
        connection = self._connect()
        found = connection.execute(
            "SELECT value FROM settings WHERE name = 'projection_format'"
        ).fetchone()
        if found is not None and found[0] == PROJECTION_FORMAT:
            return
        with connection:
            rows = connection.execute("SELECT rowid, document FROM documents").fetchall()
            updates, unusable = [], []
            for rowid, text in rows:
                try:
                    projection = project(json.loads(text))
                except InvalidDocument:  # accepted by an older, laxer version: e.g. 1e400
                    unusable.append((rowid,))
                    continue
                graph = marshal.dumps(projection, MARSHAL_VERSION)
                updates.append((graph, *lone.columns(projection), rowid))
            connection.executemany(
                "UPDATE documents SET graph = ?, lone_shape = ?, lone_calls = ? WHERE rowid = ?",
                updates,
            )
            self._write_shapes(connection, {update[1] for update in updates})
            connection.executemany("DELETE FROM documents WHERE rowid = ?", unusable)
            connection.execute(
                "INSERT OR REPLACE INTO settings VALUES ('projection_format', ?)",
                (PROJECTION_FORMAT,),
            )

    def _connect(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
            # Only a new file takes it (a store keeps the size it was made with). Rows of
            # ~1.3 KB: 16 KiB pages cut the per-page work (a new page, a WAL frame and a
            # checkpoint write each) by ~10% of a row's insert over the default 4 KiB.
            connection.execute(f"PRAGMA page_size={PAGE_BYTES}")
            connection.execute("PRAGMA journal_mode=WAL")
            # WAL with synchronous=NORMAL is durable across process crashes, which is what
            # a local development store needs, and several times faster than FULL.
            connection.execute("PRAGMA synchronous=NORMAL")
            pages = CHECKPOINT_PAGES if self.autocheckpoint else 0
            connection.execute(f"PRAGMA wal_autocheckpoint={pages}")
            self._local.connection = connection
            with self._lock:
                # The API serves each request on a new thread: close what finished ones left.
                for thread in [t for t in self._connections if not t.is_alive()]:
                    self._connections.pop(thread).close()
                self._connections[threading.current_thread()] = connection
        return connection

    def close(self) -> None:
        with self._lock:
            for connection in self._connections.values():
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    # -- writing ---------------------------------------------------------------------------

    def write_rows(self, rows: Iterable[tuple]) -> None:
        """Write rows in one transaction: a batch is stored whole or not at all."""
        if not isinstance(rows, list):
            rows = list(rows)
        connection = self._connect()
        written = self._shapes_written
        shapes = {row[10] for row in rows if row[10] not in written}
        if not rows:
            return
        with connection:
            _upsert_rows(connection, rows)
            connection.execute(ARRIVAL, (min(map(_RECEIVED_AT, rows)),))
            if shapes:
                shapes = self._write_shapes(connection, shapes)
        written.update(shapes)

    @staticmethod
    def _write_shapes(
        connection: sqlite3.Connection, shape_ids: Iterable[int | None]
    ) -> set[int | None]:
        """The lone shapes these ids stand for (lone.SHAPES), if not stored yet; the ids
        stored (one another thread is still adding to lone.SHAPES is not, and is tried again
        with its next row)."""
        known = lone.SHAPES
        stored = {shape_id for shape_id in shape_ids if shape_id is not None and shape_id in known}
        connection.executemany(
            "INSERT OR IGNORE INTO lone_shapes VALUES (?, ?)",
            [(shape_id, known[shape_id]) for shape_id in stored],
        )
        return set(stored)

    def checkpoint(self) -> None:
        """Copy what the WAL holds into the database, without waiting for (or blocking)
        writers and readers."""
        self._connect().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def put(self, documents: Iterable[Document]) -> None:
        now = time.time()
        self.write_rows(row_for(document, now) for document in documents)

    def purge_expired(self, now: float | None = None) -> int:
        """Delete documents received longer ago than the retention period.

        Without an index on received_at: every write adds an arrivals mark (its time, the
        largest rowid after it), so a row of time t has a mark of time <= t at or above its
        rowid. The rows past retention are then all at or below the largest rowid of the
        marks past it, R; the rows there are read (a rowid range, mostly the expired ones)
        and deleted by their own time. The marks past retention below R go; R's mark stays
        (covering the rows at or below it that remain, received later)."""
        cutoff = (time.time() if now is None else now) - self.retention_seconds
        connection = self._connect()
        with connection:
            (last,) = connection.execute(
                "SELECT max(last_rowid) FROM arrivals WHERE received_at < ?", (cutoff,)
            ).fetchone()
            if last is None:
                return 0
            cursor = connection.execute(
                "DELETE FROM documents WHERE rowid <= ? AND received_at < ?", (last, cutoff)
            )
            connection.execute(
                "DELETE FROM arrivals WHERE received_at < ? AND last_rowid < ?", (cutoff, last)
            )
        return cursor.rowcount

    # -- reading ---------------------------------------------------------------------------

    def count(self) -> int:
        return int(self._connect().execute("SELECT count(*) FROM documents").fetchone()[0])

    def trace_ids_between(self, start: float, end: float) -> list[str]:
        """Traces with a document that overlaps [start, end], earliest first."""
        rows = self._connect().execute(
            "SELECT trace_id, min(start_time) AS first FROM documents "
            "WHERE start_time <= ? AND coalesce(end_time, start_time) >= ? "
            "GROUP BY trace_id ORDER BY first, trace_id",
            (end, start),
        )
        return [row[0] for row in rows]

    def documents_between(self, start: float, end: float) -> dict[str, list[Document]]:
        """Documents of every trace with a segment in [start, end], grouped by trace."""
        rows = self._connect().execute(
            "SELECT trace_id, document FROM documents WHERE trace_id IN ("
            " SELECT trace_id FROM documents"
            " WHERE start_time <= ? AND coalesce(end_time, start_time) >= ?)",
            (end, start),
        )
        return _grouped(rows)

    def projections_between(self, start: float, end: float) -> dict[str, list[Projection]]:
        """Graph projections of the documents that overlap [start, end], by trace. (Only
        those: a graph covers what happened in its window; 10x faster than whole traces.)"""
        return _grouped(self._rows_between("trace_id, graph", start, end), marshal.loads)

    def _rows_between(self, columns: str, start: float, end: float) -> sqlite3.Cursor:
        """`columns` of the documents that overlap [start, end]."""
        connection = self._connect()
        # The start_time index only pays when the window leaves rows out: a window reaching
        # past the latest start (a graph of everything so far) reads the table straight
        # through instead, ~25% cheaper than a lookup per row from the index.
        latest = connection.execute("SELECT max(start_time) FROM documents").fetchone()[0]
        scan = "+" if latest is None or end >= latest else ""  # "+": not through the index
        return connection.execute(
            f"SELECT {columns} FROM documents"
            f" WHERE {scan}start_time <= ? AND coalesce(end_time, start_time) >= ?",
            (end, start),
        )

    def graph_between(
        self, start: float, end: float
    ) -> tuple[dict[bytes, list[bytes]], dict[str, list[Projection]]]:
        """What projections_between gives, split for graph.ServiceGraph: traces of a lone
        root segment as lone.columns' calls grouped by shape (for add_lone_roots), the
        others as projections (for add_projections)."""
        single: dict[str, tuple[str, int | None, bytes | None, bytes]] = {}
        several: dict[str, list[bytes]] = {}
        for row in self._rows_between("trace_id, lone_shape, lone_calls, graph", start, end):
            trace_id = row[0]
            others = several.get(trace_id)
            if others is not None:
                others.append(row[3])
                continue
            first = single.pop(trace_id, None)
            if first is None:
                single[trace_id] = row
            else:
                several[trace_id] = [first[3], row[3]]
        groups: dict[int, list[bytes]] = {}
        projections = {
            trace_id: list(map(marshal.loads, blobs)) for trace_id, blobs in several.items()
        }
        shapes = dict(self._connect().execute("SELECT id, shape FROM lone_shapes"))
        for trace_id, shape, calls, graph in single.values():
            # No lone columns, or a shape not stored (yet): the projection, the reference
            if shape is None or shape not in shapes or calls is None:
                projections[trace_id] = [marshal.loads(graph)]
            else:
                rows = groups.get(shape)
                if rows is None:
                    groups[shape] = [calls]
                else:
                    rows.append(calls)
        return {shapes[shape]: rows for shape, rows in groups.items()}, projections

    def projections_of(self, trace_ids: Iterable[str]) -> dict[str, list[Projection]]:
        return self._select_traces("graph", trace_ids, marshal.loads)

    def documents_of(self, trace_ids: Iterable[str]) -> dict[str, list[Document]]:
        return self._select_traces("document", trace_ids, json.loads)

    def _select_traces(
        self, column: str, trace_ids: Iterable[str], loads: Callable[[Any], Any]
    ) -> dict[str, list[Any]]:
        ids = list(dict.fromkeys(trace_ids))
        grouped: dict[str, list[Any]] = {}
        connection = self._connect()
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            rows = connection.execute(
                f"SELECT trace_id, {column} FROM documents WHERE trace_id IN ({marks})", chunk
            )
            grouped.update(_grouped(rows, loads))
        return grouped


_RECEIVED_AT = itemgetter(7)  # a row's received_at


def _upsert_rows(connection: sqlite3.Connection, rows: list[tuple]) -> None:
    """The rows upserted in order, in statements of CHUNK_ROWS rows."""
    done = 0
    for size in CHUNK_ROWS:
        whole = done + (len(rows) - done) // size * size
        if whole == done:
            continue
        if size == 1:
            connection.executemany(_UPSERTS[1], rows[done:whole])
        else:
            connection.executemany(
                _UPSERTS[size],
                [
                    tuple(chain.from_iterable(rows[at : at + size]))
                    for at in range(done, whole, size)
                ],
            )
        done = whole


def _grouped(
    rows: Iterable[tuple[str, Any]], loads: Callable[[Any], Any] = json.loads
) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    found = grouped.get
    for trace_id, text in rows:
        documents = found(trace_id)
        if documents is None:
            grouped[trace_id] = [loads(text)]
        else:
            documents.append(loads(text))
    return grouped


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for index in range(0, len(items), size):
        yield items[index : index + size]
