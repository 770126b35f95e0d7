"""The SQLite trace store: WAL, upserts of in-progress documents, retention, projections."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from lambda_tracing_local.xray.graph import project
from lambda_tracing_local.xray.store import TraceStore, row_for

TRACE = "1-5f000000-0123456789abcdef01234567"


def segment(**fields: object) -> dict:
    return {
        "name": "app",
        "id": "a000000000000000",
        "trace_id": TRACE,
        "start_time": 1_600_000_000.0,
        "end_time": 1_600_000_001.0,
        **fields,
    }


@pytest.fixture
def store(tmp_path: Path):
    opened = TraceStore(tmp_path / "xray.sqlite3", retention_seconds=3600)
    yield opened
    opened.close()


def test_store_uses_wal_and_indexes_trace_and_time(store: TraceStore) -> None:
    connection = sqlite3.connect(store.path)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {
        row[1]: [c[2] for c in connection.execute(f"PRAGMA index_info('{row[1]}')")]
        for row in connection.execute("PRAGMA index_list('documents')")
    }
    assert ["trace_id", "id"] in indexes.values() and ["start_time"] in indexes.values()
    assert ["received_at"] not in indexes.values()  # retention reads arrivals instead
    connection.close()


def test_completed_document_replaces_in_progress_but_never_the_reverse(store: TraceStore) -> None:
    started = segment(in_progress=True)
    del started["end_time"]
    store.put([started])
    assert store.documents_of([TRACE])[TRACE] == [started]
    store.put([segment()])
    store.put([started])
    assert store.documents_of([TRACE])[TRACE] == [segment()]
    assert store.count() == 1


@pytest.mark.parametrize("count", [1, 9, 10, 50, 63, 127])
def test_rows_written_together_upsert_in_order_as_one_by_one(store: TraceStore, count: int) -> None:
    """Rows go in as INSERTs of several rows (CHUNK_ROWS): copies of one document within a
    statement and across statements still end as one row, a completed copy winning."""
    in_progress = {"in_progress": True, "end_time": None}
    first = segment(id="b000000000000000", **in_progress)
    second = segment(id="c000000000000000")
    rows = [
        segment(id=f"{number:016x}", start_time=1_600_000_000.0 + number)
        for number in range(max(count - 4, 0))
    ] + [first, segment(id=first["id"]), second, segment(id=second["id"], **in_progress)]
    rows = rows[-count:] if count < 4 else rows
    store.write_rows([row_for(document, time.time()) for document in rows])
    expected = {document["id"]: document for document in rows if not document.get("in_progress")}
    for document in rows:  # an in-progress copy is kept only where no completed one came
        expected.setdefault(document["id"], document)
    stored = store.documents_of([TRACE])[TRACE]
    assert sorted(stored, key=lambda d: d["id"]) == sorted(expected.values(), key=lambda d: d["id"])
    assert store.count() == len(expected)


@pytest.mark.parametrize("count", [6, 11, 61])
def test_the_last_completed_copy_wins_within_and_across_statements(
    store: TraceStore, count: int
) -> None:
    """Two completed copies of one document, first and last of `count` rows: in one statement
    of 10 (6 rows: 1-row statements; 11: a 10-row one, then 1; 61: 50, 10, 1), the later is
    what is stored, as one statement per row would leave it."""
    early = segment(id="d000000000000000", end_time=1_600_000_001.0)
    late = segment(id="d000000000000000", end_time=1_600_000_001.5)
    middle = [segment(id=f"{number:016x}") for number in range(count - 2)]
    store.write_rows([row_for(document, time.time()) for document in [early, *middle, late]])
    stored = {document["id"]: document for document in store.documents_of([TRACE])[TRACE]}
    assert stored["d000000000000000"]["end_time"] == 1_600_000_001.5
    assert store.count() == count - 1


def test_retention_removes_documents_received_too_long_ago(store: TraceStore) -> None:
    store.put([segment()])
    assert store.purge_expired(now=time.time() + 60) == 0
    assert store.purge_expired(now=time.time() + 3601) == 1
    assert store.count() == 0


def test_retention_goes_by_each_rows_time_whatever_order_batches_were_written_in(
    store: TraceStore,
) -> None:
    """Workers commit batches out of order (a later one first), and an upsert gives an old
    row a new time: each row still goes when its own time is past retention, not before."""
    now = time.time()

    def write(received_at: float, *ids: str, **fields: object) -> None:
        store.write_rows([row_for(segment(id=i, **fields), received_at) for i in ids])

    write(now + 10, "b000000000000000", "b000000000000001")  # later batch, committed first
    write(now, "a000000000000000", "a000000000000001")  # its rows above the later ones
    write(now - 50, "c000000000000000", in_progress=True, end_time=None)
    write(now + 20, "c000000000000000")  # completed later: the same row, a newer time
    assert store.purge_expired(now=now + 3600 - 1) == 0
    assert store.purge_expired(now=now + 3600 + 5) == 2  # the "a" rows
    assert store.purge_expired(now=now + 3600 + 15) == 2  # the "b" rows, below a's mark
    ids = {d["id"] for d in store.documents_of([TRACE])[TRACE]}
    assert ids == {"c000000000000000"}
    write(now + 30, "d000000000000000")
    assert store.purge_expired(now=now + 3600 + 25) == 1  # "c", at its completed time
    assert store.purge_expired(now=now + 3600 + 35) == 1
    assert store.count() == 0


def test_a_store_from_before_arrivals_is_purged_by_time(tmp_path: Path) -> None:
    """A store written with an index on received_at and no arrivals table."""
    path = tmp_path / "old.sqlite3"
    first = TraceStore(path, retention_seconds=3600)
    now = time.time()
    first.write_rows([row_for(segment(id=f"{n:016x}"), now + n) for n in range(3)])
    first.close()
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("DROP TABLE arrivals")
        connection.execute("CREATE INDEX documents_by_received ON documents (received_at)")
    connection.close()
    reopened = TraceStore(path, retention_seconds=3600)
    assert reopened.purge_expired(now=now + 3600 + 1.5) == 2
    assert reopened.purge_expired(now=now + 3600 + 2.5) == 1
    reopened.close()
    connection = sqlite3.connect(path)
    indexes = {row[1] for row in connection.execute("PRAGMA index_list('documents')")}
    assert "documents_by_received" not in indexes
    connection.close()


def test_an_empty_store_from_before_arrivals_opens(tmp_path: Path) -> None:
    """No rows, so no first mark (it would be NULLs): opened, written and purged as any."""
    path = tmp_path / "old-empty.sqlite3"
    TraceStore(path).close()
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("DROP TABLE arrivals")
    connection.close()
    reopened = TraceStore(path, retention_seconds=3600)
    now = time.time()
    reopened.write_rows([row_for(segment(), now)])
    assert reopened.purge_expired(now=now + 3601) == 1
    reopened.close()


def test_time_window_queries(store: TraceStore) -> None:
    store.put(
        [
            segment(),
            segment(
                id="b000000000000000",
                trace_id=TRACE[:-1] + "8",
                start_time=1_700_000_000.0,
                end_time=1_700_000_001.0,
            ),
        ]
    )
    assert store.trace_ids_between(1_600_000_000.5, 1_600_000_000.7) == [TRACE]
    assert store.trace_ids_between(0, 2e9) == [TRACE, TRACE[:-1] + "8"]
    assert list(store.projections_between(1_699_999_999, 1_700_000_000.5)) == [TRACE[:-1] + "8"]


def test_projections_are_rebuilt_when_their_format_changes(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    first = TraceStore(path)
    first.put([segment()])
    first.close()
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("UPDATE documents SET graph = x'00'")
        connection.execute("UPDATE settings SET value = 'an older layout'")
        # An older version stored this one; an infinite time cannot be projected now.
        infinite = '{"name":"app","id":"b000000000000000","trace_id":"%s","start_time":1e400}'
        connection.execute(
            "INSERT INTO documents (trace_id, id, parent_id, streamed, start_time, end_time,"
            " in_progress, received_at, document, graph)"
            " VALUES (?, 'b000000000000000', NULL, 0, 1e300, NULL, 0, 0, ?, x'00')",
            (TRACE, infinite % TRACE),
        )
        # and before the lone-root columns were added
        connection.execute("ALTER TABLE documents DROP COLUMN lone_shape")
        connection.execute("ALTER TABLE documents DROP COLUMN lone_calls")
    connection.close()
    reopened = TraceStore(path)
    assert reopened.projections_of([TRACE])[TRACE] == [project(segment())]
    assert reopened.count() == 1
    lone_roots, projections = reopened.graph_between(0, 2e9)
    assert len(lone_roots) == 1 and projections == {}  # the columns were filled in
    reopened.close()


def test_a_store_from_an_older_layout_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "ancient.sqlite3"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE documents (trace_id TEXT, id TEXT)")
    connection.close()
    with pytest.raises(RuntimeError, match="delete it or choose another --db"):
        TraceStore(path)


def test_a_store_without_autocheckpoint_leaves_the_wal_until_asked(tmp_path: Path) -> None:
    path = tmp_path / "xray.sqlite3"
    writer = TraceStore(path, autocheckpoint=False)
    reader = sqlite3.connect(path)  # holds the WAL open, as the daemon's connections do
    reader.execute("SELECT count(*) FROM documents").fetchone()
    writer.write_rows([row_for(segment(id=f"{n:016x}"), 0.0) for n in range(50)])
    assert writer._connect().execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    db_bytes = path.stat().st_size
    writer.checkpoint()
    assert path.stat().st_size > db_bytes  # the rows were copied into the database
    assert reader.execute("SELECT count(*) FROM documents").fetchone()[0] == 50
    reader.close()
    writer.close()
