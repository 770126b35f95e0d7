"""Local X-Ray as one thing: daemon + store + API, as a context manager and a CLI command."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sqlite3
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from .api import XRayHTTPServer
from .daemon import DEFAULT_PROCESSES, RECEIVE_BUFFER_BYTES, Daemon
from .operations import Operations
from .sampling import LOCAL_FIXED_RATE, SamplingRules
from .store import DEFAULT_RETENTION_SECONDS, TraceStore

log = logging.getLogger(__name__)


def parse_address(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """'HOST:PORT', ':PORT' or 'PORT' -> (host, port); loopback unless a host is given."""
    host, _, port = str(text).rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"not an address: {text!r} (expected HOST:PORT)") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"port out of range in {text!r}")
    return (host.strip("[]") or default_host), number


def default_db_path() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "lambda-tracing" / "xray.sqlite3"


class LocalXRay:
    """`with LocalXRay() as xr:` runs the daemon and the API in background threads.

    Ports 0 pick free ones; db=None keeps the store in a temporary directory removed on exit;
    service_graph_page limits Services per GetServiceGraph page (NextToken for the rest);
    ingest_processes is how many worker processes validate and store bursts of datagrams
    (started on the first burst; 0 keeps all the work in this process); sampling_rate is
    the sampling rule's fixed rate, served to the SDKs on the daemon's address over TCP, as
    the X-Ray daemon serves it (see sampling.py).
    """

    def __init__(
        self,
        udp: str = "127.0.0.1:0",
        api: str = "127.0.0.1:0",
        db: str | Path | None = None,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        service_graph_page: int | None = None,
        udp_receive_buffer: int = RECEIVE_BUFFER_BYTES,
        ingest_processes: int = DEFAULT_PROCESSES,
        sampling_rate: float = LOCAL_FIXED_RATE,
    ) -> None:
        self.sampling = SamplingRules(sampling_rate)
        self._udp, self._api = parse_address(udp), parse_address(api)
        self._temporary: str | None = None
        if db is None:
            self._temporary = tempfile.mkdtemp(prefix="local-xray-")
            db = Path(self._temporary) / "xray.sqlite3"
        Path(db).parent.mkdir(parents=True, exist_ok=True)
        self.db_path = str(db)
        self._retention = retention_seconds
        self._page = service_graph_page
        self._receive_buffer = udp_receive_buffer
        self._processes = ingest_processes
        self.store: TraceStore | None = None
        self.daemon: Daemon | None = None
        self.http: XRayHTTPServer | None = None
        self.sampling_server: XRayHTTPServer | None = None  # TCP, on the daemon's address

    def start(self) -> LocalXRay:
        self.store = TraceStore(self.db_path, self._retention)
        try:
            self.daemon, self.sampling_server = self._daemon_with_sampling(self.store)
            operations = Operations(self.store, self._page, self.daemon.record_api_documents)
            record_otlp = self.daemon.record_otlp_spans
            self.http = XRayHTTPServer(self._api, operations, self.sampling, record_otlp)
        except BaseException:
            self.stop()
            raise
        self.daemon.start()
        self.http.start()
        if self.sampling_server is not None:
            self.sampling_server.start()
        return self

    def _daemon_with_sampling(self, store: TraceStore) -> tuple[Daemon, XRayHTTPServer | None]:
        """The daemon on its UDP address, and the sampling server on the same address over
        TCP. With port 0 the pair is tried again until the kernel's free UDP port is free for
        TCP too; with a given port that is taken for TCP, the daemon runs without it (the SDKs
        then log that and sample by their built-in rule)."""
        for attempt in range(20):
            daemon = Daemon(self._udp, store, self._receive_buffer, self._processes)
            try:
                return daemon, XRayHTTPServer(daemon.address, None, self.sampling)
            except OSError as error:
                if self._udp[1] == 0 and attempt < 19:
                    daemon.stop()
                    continue
                log.warning(
                    "local X-Ray: sampling rules not served on tcp://%s:%d (%s); SDKs will"
                    " use their built-in rule",
                    *daemon.address,
                    error.strerror or error,
                )
                return daemon, None
        raise AssertionError("unreachable")

    def stop(self) -> None:
        for server in (self.http, self.sampling_server):
            if server is not None:
                server.close()
        self.http = self.sampling_server = None
        if self.daemon is not None:
            self.daemon.stop()
        if self.store is not None:
            self.store.close()
            self.store = None
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None

    def __enter__(self) -> LocalXRay:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _running(self) -> tuple[Daemon, XRayHTTPServer]:
        if self.daemon is None or self.http is None:
            raise RuntimeError("LocalXRay is not running: use it as a context manager")
        return self.daemon, self.http

    @property
    def udp_address(self) -> str:
        host, port = self._running()[0].address
        return f"{host}:{port}"

    @property
    def api_url(self) -> str:
        host, port = self._running()[1].server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def stats(self) -> dict[str, Any]:
        """received / stored / rejected counts (still readable after stop)."""
        daemon = self.daemon
        if daemon is None:
            raise RuntimeError("LocalXRay was never started")
        with daemon.changed:
            return daemon.stats.as_dict()

    def kernel_drops(self) -> int | None:
        return self._running()[0].kernel_drops()

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until `count` documents are stored (UDP and API); False on timeout."""
        daemon = self._running()[0]
        deadline = time.monotonic() + timeout
        with daemon.changed:
            while daemon.stats.stored < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                daemon.changed.wait(remaining)
        return True

    def wait_until_idle(self, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until every datagram already sent is dealt with; returns the stats then."""
        daemon = self._running()[0]
        deadline = time.monotonic() + timeout
        while not daemon.idle() and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lambda-tracing local xray",
        description="Run a local X-Ray daemon (UDP, with the sampling rules over TCP on the"
        " same address) and X-Ray API (HTTP) in the foreground.",
    )
    parser.add_argument("--udp", default="127.0.0.1:2000", help="daemon address (HOST:PORT)")
    parser.add_argument("--api", default="127.0.0.1:2001", help="API address (HOST:PORT)")
    parser.add_argument("--db", default=str(default_db_path()), help="SQLite file for traces")
    parser.add_argument(
        "--sampling-rate",
        type=float,
        default=LOCAL_FIXED_RATE,
        help="fixed rate of the sampling rule served to SDKs (default: every request)",
    )
    parser.add_argument(
        "--retention-hours",
        type=float,
        default=DEFAULT_RETENTION_SECONDS / 3600,
        help="keep traces this long",
    )
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        server = LocalXRay(
            arguments.udp,
            arguments.api,
            arguments.db,
            retention_seconds=arguments.retention_hours * 3600,
            sampling_rate=arguments.sampling_rate,
        )
        server.start()
    except (ValueError, OSError, RuntimeError, sqlite3.Error) as error:
        parser.exit(2, f"lambda-tracing local xray: {error}\n")
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        print(
            f"local X-Ray: daemon on udp://{server.udp_address} "
            + ("and tcp (sampling rules) " if server.sampling_server is not None else "")
            + f"(AWS_XRAY_DAEMON_ADDRESS={server.udp_address}), "
            f"API on {server.api_url} (AWS_ENDPOINT_URL_XRAY={server.api_url}), "
            f"OTLP spans on {server.api_url}/v1/traces and the daemon's port (ADOT), "
            f"store {server.db_path}",
            flush=True,
        )
        stop.wait()
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("local X-Ray stopped", flush=True)
    return 0
