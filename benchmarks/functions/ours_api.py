"""Find our layer's custom-subsegment context manager, whatever its final name.

The layer is being written while the benchmark is; this keeps the benchmark's user code to one
call and fails loudly (the row shows n/a with the reason) when no such API exists yet.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

_CANDIDATE_NAMES = ("subsegment", "in_subsegment", "custom_subsegment", "trace_subsegment", "capture")


def _find() -> Any:
    import lambda_tracing.subsegments as module

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
