"""One hostile case for the adversarial suite: a user's function as it would be deployed, run
once bare and once through the built layer's wrapper, and compared (issue 17).

Cases live in `tests/adversarial/cases/<area>.py`, each module exposing `CASES: list[Case]`;
the harness (`tests/adversarial/harness.py`) collects them all. A case is data only, so it can
be written without the harness and run by any runtime that loads and reports as awslambdaric.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Case:
    name: str  # unique, a short slug: "capture-dict-items-drains"
    # The task root: file name -> source text ("app.py": "def handler(event, context): ...").
    files: dict[str, str]
    handler: str = "app.handler"  # _HANDLER, exactly as the user would set it
    # One event per invocation, in order, into the same warm environment.
    events: list[Any] = field(default_factory=lambda: [{}])
    env: dict[str, str] = field(default_factory=dict)  # beyond the harness's Lambda defaults
    # Strings that must never reach the daemon (planted secrets).
    secrets: tuple[str, ...] = ()
    # Known, documented differences that are the product's purpose (README "What the layer
    # changes"); anything else that differs fails the case. Empty for nearly every case.
    allowed_differences: tuple[str, ...] = ()
    # Extra time the layer may take over bare for this case, in seconds.
    time_budget_seconds: float = 0.05
    # Per-invocation trace header (None: the harness makes a fresh sampled one per event).
    trace_headers: tuple[str | None, ...] | None = None
    note: str = ""  # why the case exists: the finding it pins, in a few words
