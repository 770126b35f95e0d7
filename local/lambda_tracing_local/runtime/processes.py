"""Child processes that never outlive us: own process group, stopped at exit and on signals."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from types import FrameType

_children: set[subprocess.Popen[bytes]] = set()
_lock = threading.Lock()
_handlers_installed = False


def free_port() -> int:
    """A loopback port nobody holds right now (for servers that cannot report theirs)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(
    argv: Sequence[str],
    env: dict[str, str],
    cwd: str | None = None,
    stdout: int | None = None,
    stderr: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` in a new process group so stop() can take its children along too."""
    _install_handlers()
    process = subprocess.Popen(
        list(argv), env=env, cwd=cwd, stdout=stdout, stderr=stderr, start_new_session=True
    )
    with _lock:
        _children.add(process)
    return process


def stop(process: subprocess.Popen[bytes], grace_seconds: float = 2.0) -> None:
    """SIGTERM the group, then SIGKILL whatever is left after the grace period."""
    with _lock:
        _children.discard(process)
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace_seconds)
    # The leader may be gone while grandchildren linger in its group.
    _signal_group(process, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(grace_seconds)


def kill(process: subprocess.Popen[bytes]) -> None:
    """Immediate SIGKILL of the whole group (a timed-out Lambda gets no grace)."""
    with _lock:
        _children.discard(process)
    _signal_group(process, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)


def stop_all() -> None:
    with _lock:
        remaining = list(_children)
    for process in remaining:
        stop(process, grace_seconds=1.0)


def wait_for_port(host: str, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s") from None
            time.sleep(0.05)


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _install_handlers() -> None:
    """atexit catches normal ends; signals unwind the with-blocks, a second one forces the end."""
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(stop_all)
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) in (signal.SIG_IGN, None):
            continue  # e.g. SIGINT in a background job: whoever started us wants it ignored
        signal.signal(signum, _on_signal)


_signalled = False


def _on_signal(signum: int, frame: FrameType | None) -> None:
    global _signalled
    if _signalled:
        stop_all()
        os._exit(128 + signum)
    _signalled = True
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)
