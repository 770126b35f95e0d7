"""Orders sent through the local API, a few at a time, with a progress bar on stderr."""

from __future__ import annotations

import http.client
import json
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TextIO
from urllib.parse import urlsplit

ITEMS = ("book", "lamp", "mug", "chair", "pen", "bike")
OVERSIZED_EVERY = 12  # every 12th order asks for more than the orders function can reserve


@dataclass
class TrafficReport:
    statuses: Counter[int] = field(default_factory=Counter)
    trace_ids: dict[int, str] = field(default_factory=dict)  # status -> one trace id
    created_trace_ids: list[str] = field(default_factory=list)


def order(number: int) -> dict[str, object]:
    quantity = 60 if number % OVERSIZED_EVERY == OVERSIZED_EVERY - 1 else 1 + number % 5
    return {"item": ITEMS[number % len(ITEMS)], "quantity": quantity}


def send_orders(
    api_url: str, count: int, concurrency: int = 4, progress: TextIO | None = sys.stderr
) -> TrafficReport:
    report = TrafficReport()
    lock = threading.Lock()
    done = 0
    target = urlsplit(api_url)

    def send(number: int) -> None:
        nonlocal done
        connection = http.client.HTTPConnection(target.netloc, timeout=30)
        try:
            connection.request(
                "POST", "/orders", json.dumps(order(number)), {"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            response.read()
            status = response.status
            trace = _root(response.getheader("X-Amzn-Trace-Id"))
        except OSError:
            status, trace = 0, None
        finally:
            connection.close()
        with lock:
            report.statuses[status] += 1
            if trace:
                report.trace_ids.setdefault(status, trace)
                if status == 201:
                    report.created_trace_ids.append(trace)
            done += 1
            if progress is not None:
                _draw(progress, done, count, report.statuses)

    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="orders")
    try:
        list(pool.map(send, range(count)))
    finally:  # on Ctrl-C, drop the orders not yet sent instead of sending them all first
        pool.shutdown(wait=True, cancel_futures=True)
    if progress is not None:
        progress.write("\n")
    return report


def _root(header: str | None) -> str | None:
    for part in (header or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == "Root":
            return value
    return None


def _draw(stream: TextIO, done: int, total: int, statuses: Counter[int]) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    counts = " ".join(f"{status}:{n}" for status, n in sorted(statuses.items()))
    stream.write(f"\r  orders [{'#' * filled}{'.' * (width - filled)}] {done}/{total}  {counts}")
    stream.flush()
