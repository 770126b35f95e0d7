"""`get_backend()`: the process's one tracing backend, created on first use.

Tracing disabled, or the X-Ray SDK failing to start (e.g. AWS_XRAY_DAEMON_ADDRESS unparsable by
the SDK), gives a NoopBackend: the function runs untraced rather than failing.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_backend: Any = None


def get_backend() -> Any:
    """The TracingBackend (see base.py); X-Ray specific: `.recorder` is the recorder the
    library patches record through (backend.recorder; None when tracing is off)."""
    backend = _backend
    if backend is not None:
        return backend
    with _lock:
        if _backend is None:
            _set(_create())
        return _backend


def _set(backend: Any) -> None:
    global _backend
    _backend = backend


def _create() -> Any:
    from lambda_tracing import config
    from lambda_tracing.backend.xray import NoopBackend, XRayBackend
    from lambda_tracing.failures import log_failure

    settings = config.load()
    if not settings.enabled:
        return NoopBackend()
    try:
        return XRayBackend(settings)
    except Exception as error:  # noqa: BLE001 - no tracing is better than no function
        log_failure("starting the X-Ray backend", error)
        return NoopBackend()


def make_emitter(settings: Any) -> Any:
    """What writes the recorded spans (LAMBDA_TRACING_EXPORTER): segment documents, or OTLP
    spans in ADOT's framing; each imported only when chosen."""
    if getattr(settings, "exporter", "xray") == "otlp":
        from lambda_tracing.backend.otlp import OTLPEmitter

        return OTLPEmitter(settings)
    from lambda_tracing.backend.emitter import UDPEmitter

    return UDPEmitter(settings.daemon_address)


def reset_backend(backend: Any = None) -> Any:
    """Replace the process's backend (tests); returns the previous one. None: create anew."""
    with _lock:
        previous = _backend
        _set(backend)
        return previous
