"""Escaping, number formatting and text-width estimates shared by the pictures."""

from __future__ import annotations

import html
import math
import re

FONT_FAMILY = "'DejaVu Sans', 'Liberation Sans', Arial, Helvetica, sans-serif"

# Widths in em, on the generous side of DejaVu Sans, so text we fit never spills out of its box.
_NARROW = set("il.,:;'|!()[]{}` ")
_SLIGHT = set('fjrtI/-"')
_WIDE = set("mwMW@%")


# Characters XML 1.0 does not allow at all (escaped or not): a standalone SVG holding one
# does not parse. They are shown as U+FFFD, as a browser shows undecodable text.
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def esc(value: object) -> str:
    """Escape any value for SVG/HTML text or attribute content."""
    escaped = html.escape(str(value), quote=True)
    if _NOT_IN_XML.search(escaped) is None:  # the common case: one scan, nothing replaced
        return escaped
    return _NOT_IN_XML.sub("\ufffd", escaped)


def text_width(text: str, font_px: float) -> float:
    """Estimated rendered width of `text` in pixels (upper bound for common fonts)."""
    em = 0.0
    for char in text:
        if char in _NARROW:
            em += 0.36
        elif char in _SLIGHT:
            em += 0.46
        elif char in _WIDE:
            em += 1.0
        elif char.isupper() or char.isdigit():
            em += 0.74
        else:
            em += 0.66
    return em * font_px


def fit(text: str, max_px: float, font_px: float) -> str:
    """`text`, shortened in the middle with an ellipsis so it fits in `max_px`, or ''."""
    if text_width(text, font_px) <= max_px:
        return text
    keep = len(text)
    while keep > 1:
        keep -= 1
        head = (keep + 1) // 2
        tail = keep - head
        candidate = text[:head] + "…" + (text[-tail:] if tail else "")
        if text_width(candidate, font_px) <= max_px:
            return candidate
    return ""


def clip(text: str, max_px: float, font_px: float) -> str:
    """`text`, cut at the end with an ellipsis so it fits in `max_px`, or ''."""
    if text_width(text, font_px) <= max_px:
        return text
    for keep in range(len(text) - 1, 0, -1):
        candidate = text[:keep].rstrip() + "…"
        if text_width(candidate, font_px) <= max_px:
            return candidate
    return ""


def duration_text(ms: float | None) -> str:
    """A duration in ms for people: '0.4 ms', '157 ms', '3.2 s'."""
    if ms is None or not math.isfinite(ms):
        return "n/a"
    if ms < 10:
        return f"{ms:.1f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms / 60_000:.1f} min"


def rate_text(per_minute: float | None) -> str:
    """Requests per minute, with sensible precision."""
    if per_minute is None:
        return "n/a"
    if per_minute >= 10_000:
        return f"{per_minute / 1000:,.1f}k/min"
    if per_minute >= 100:
        return f"{per_minute:,.0f}/min"
    if per_minute >= 10:
        return f"{per_minute:.1f}/min"
    return f"{per_minute:.2f}/min"


def percent_text(rate: float | None) -> str:
    if rate is None:
        return "n/a"
    return f"{rate * 100:.1f}%"
