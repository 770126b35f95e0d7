"""A task root whose hostile objects note each of their methods called in a CALLS list, and
whose handler returns CALLS when the event asks for it (`REPORT`): a method the layer calls,
and the runtime does not, then shows in what the user sees, not only in the time taken.
(A helper, not a case module: the harness skips modules whose name starts with `_`.)"""

from __future__ import annotations

from textwrap import dedent

REPORT = {"report": True}


def recorded(setup: str, outcome: str) -> dict[str, str]:
    """`setup` (classes calling `note(name)`), then a handler whose `outcome` is a statement
    (`return ...` or `raise ...`), or which returns CALLS when asked."""
    return {
        "app.py": dedent("""
        CALLS = []

        def note(name):
            CALLS.append(name)
    """)
        + dedent(setup)
        + dedent(f"""

        def handler(event, context):
            if event.get("report"):
                return {{"calls": CALLS}}
            {outcome}
    """)
    }
