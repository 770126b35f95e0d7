"""Hostile but legal handlers, handler names, module names, settings, threads, forks, file
descriptors and recursion: the runtime-level areas of issue 17."""

from __future__ import annotations

from textwrap import dedent

from case import Case


def app(source: str) -> dict[str, str]:
    return {"app.py": dedent(source)}


CASES: list[Case] = [
    Case("plain-return", app("""
        def handler(event, context):
            return {"ok": True, "event": event}
    """), events=[{"a": 1}, {"b": 2}], note="the baseline: a result passes through"),
]
