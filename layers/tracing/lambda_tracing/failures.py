"""Instrumentation failures: logged once at warning (then at debug), never raised."""

from __future__ import annotations

import logging

logger = logging.getLogger("lambda_tracing")


class _LogOnce:
    """Failures tend to repeat on every invocation; say each kind once, then only at debug."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def __call__(self, what: str, error: BaseException) -> None:
        try:
            if what in self._seen:
                logger.debug("lambda_tracing: %s failed again: %r", what, error)
                return
            self._seen.add(what)
            logger.warning(
                "lambda_tracing: %s failed (%.300r); the function is not affected",
                what,
                error,
                exc_info=logger.isEnabledFor(logging.DEBUG),
            )
        except Exception:  # noqa: BLE001,S110 - reporting a failure must not fail
            pass


log_failure = _LogOnce()
