"""Find our layer's custom-subsegment context manager, whatever its final name.

The layer is being written while the benchmark is; this keeps the benchmark's user code to one
call and fails loudly (the row shows n/a with the reason) when no such API exists yet. Until
`lambda_tracing.subsegments` exists it uses the backend's `in_subsegment` (backend/base.py).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

_CANDIDATE_NAMES = (
    "subsegment",
    "in_subsegment",
    "custom_subsegment",
    "trace_subsegment",
    "capture",
)


def _find() -> Any:
    try:
        import lambda_tracing.subsegments as module
    except ImportError:
        # Until the public API lands: the backend interface every entry point uses.
        from lambda_tracing import get_backend

        return get_backend().in_subsegment
    for name in _CANDIDATE_NAMES:
        candidate = getattr(module, name, None)
        if callable(candidate):
            return candidate
    raise RuntimeError(f"lambda_tracing.subsegments has none of {_CANDIDATE_NAMES}")


_factory: Any = None


def custom_subsegment(name: str) -> AbstractContextManager[Any]:
    global _factory
    if _factory is None:
        _factory = _find()
    return _factory(name)
