"""A batch of daemon datagrams into the store: whole documents stored, every bad one counted
with its reason, a failed transaction rejecting the batch whole, never an exception out."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from lambda_tracing_local.xray.ingest import SDK_HEADER_LINE, ingest_batch
from lambda_tracing_local.xray.store import TraceStore

HEADER = b'{"format": "json", "version": 1}\n'
TRACE = "1-5f000000-0123456789abcdef01234567"


def segment(number: int, **fields: object) -> dict:
    return {
        "name": "app",
        "id": f"{number:016x}",
        "trace_id": TRACE,
        "start_time": 1_600_000_000.0,
        "end_time": 1_600_000_001.0,
        **fields,
    }


def datagram(document: dict | str) -> bytes:
    text = document if isinstance(document, str) else json.dumps(document)
    return HEADER + text.encode()


@pytest.fixture
def store(tmp_path: Path):
    opened = TraceStore(tmp_path / "xray.sqlite3")
    yield opened
    opened.close()


def test_valid_documents_are_stored_whole_and_bad_ones_counted_by_reason(
    store: TraceStore,
) -> None:
    remote = {
        "name": "odd-url",
        "id": "b000000000000000",
        "namespace": "remote",
        "start_time": 1_600_000_000.1,
        "end_time": 1_600_000_000.2,
        "http": {"request": {"url": "http://[not-an-ipv6-host/"}},  # urlsplit raises on it
    }
    good = [segment(1), segment(2, subsegments=[remote])]
    batch = [
        datagram(good[0]),
        b"garbage without a header line",
        datagram('{"name": "app", "start_time": NaN}'),  # NaN is not JSON
        datagram(json.dumps(segment(3)).replace("1600000001.0", "1e400")),  # infinite time
        # Past the year 9999, and before 1970: no timestamp botocore can parse.
        datagram(json.dumps(segment(4)).replace("1600000001.0", "1e300")),
        datagram(json.dumps(segment(5)).replace("1600000001.0", "-5.0")),
        datagram({"name": "app"}),  # misses id, trace_id, start_time
        datagram(good[1]),
        SDK_HEADER_LINE,  # the header line alone, no newline: no document behind it
    ]
    result = ingest_batch(store, batch, now=1_600_000_002.0)
    assert (result.received, result.stored) == (9, 2)
    assert result.rejected == {
        "InvalidHeader": 2,
        "InvalidJson": 1,
        "InvalidEndTime end_time": 3,
        "MissingTraceId trace_id": 1,
    }
    assert len(result.messages) == 7 and result.store_error is None
    assert sum("end_time: " in message for message in result.messages) == 3
    assert store.documents_of([TRACE])[TRACE] == good


def test_a_failed_transaction_rejects_the_batch_whole(store: TraceStore) -> None:
    connection = sqlite3.connect(store.path)
    connection.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON documents BEGIN "
        "SELECT RAISE(ABORT, 'disk full, say'); END"
    )
    connection.commit()
    result = ingest_batch(store, [datagram(segment(1)), datagram(segment(2))], now=0.0)
    assert (result.received, result.stored) == (2, 0)
    assert result.rejected == {"store": 2}
    assert result.store_error is not None and "disk full" in result.store_error
    assert store.count() == 0
    connection.close()


def test_the_write_lock_is_held_for_the_write_only(store: TraceStore) -> None:
    # The ingest workers share one: each parses beside the others and takes turns to write.
    held_while_writing: list[bool] = []
    held = False

    class Lock:
        def __enter__(self) -> None:
            nonlocal held
            held = True

        def __exit__(self, *_: object) -> None:
            nonlocal held
            held = False

    write_rows = store.write_rows

    def writing(rows: list[tuple]) -> None:
        held_while_writing.append(held)
        write_rows(rows)

    store.write_rows = writing  # type: ignore[method-assign]
    result = ingest_batch(store, [datagram(segment(1)), b"bad"], now=0.0, write_lock=Lock())
    assert result.stored == 1 and held_while_writing == [True] and not held
