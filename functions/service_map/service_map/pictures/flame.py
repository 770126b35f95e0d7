"""A flame graph of one trace: one row per depth, time left to right, bars inside their parents."""

from __future__ import annotations

import math
from typing import Any

from service_map.pictures.palette import LEGEND, STATUS_COLOURS, TINTS
from service_map.pictures.text import FONT_FAMILY, clip, duration_text, esc, text_width
from service_map.pictures.trace_tree import Span, Trace, read_trace

PLOT_W = 1200
LEFT = 16
TOP = 96
BAR_H = 20
ROW_GAP = 3
LABEL_PX = 11
MAX_FIELD_CHARS = 160

_STYLE = f"""
svg.flame {{ font-family: {FONT_FAMILY}; background: #fff; }}
.flame .bar rect {{ stroke-width: 1; }}
.flame .bar:hover rect {{ stroke: #000; stroke-width: 2; }}
.flame .bar text {{ font-size: {LABEL_PX}px; fill: #16191f; pointer-events: none; }}
.flame .bar.async text {{ paint-order: stroke; stroke: #fff; stroke-width: 3px; }}
.flame .title {{ font-size: 16px; font-weight: bold; fill: #16191f; }}
.flame .subtitle, .flame .legend text, .flame .tick text {{ font-size: 12px; fill: #545b64; }}
.flame .tick line {{ stroke: #d5dbdb; }}
"""


def _lanes(trace: Trace) -> dict[int, int]:
    """Row of each span (by id()): depths stack top to bottom; spans of one depth that overlap
    in time (concurrent calls) get extra lanes inside that depth's band."""
    by_depth: dict[int, list[Span]] = {}
    for span in trace.spans:
        by_depth.setdefault(span.depth, []).append(span)
    rows: dict[int, int] = {}
    first_row = 0
    for depth in sorted(by_depth):
        lane_ends: list[float] = []
        for span in sorted(by_depth[depth], key=lambda s: (s.start, -s.end)):
            lane = next((i for i, end in enumerate(lane_ends) if end <= span.start), None)
            if lane is None:
                lane = len(lane_ends)
                lane_ends.append(span.end)
            else:
                lane_ends[lane] = span.end
            rows[id(span)] = first_row + lane
        first_row += len(lane_ends)
    return rows


def _flatten(prefix: str, value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for index, item in enumerate(value[:5]):
            _flatten(f"{prefix}[{index}]", item, out)
    else:
        text = str(value)
        if len(text) > MAX_FIELD_CHARS:
            text = text[: MAX_FIELD_CHARS - 1] + "…"
        out.append(f"{prefix}: {text}")


def _details(span: Span, trace_start: float) -> str:
    doc = span.document
    lines = [
        span.name,
        f"{'segment' if span.segment else 'subsegment'}"
        + (f" · {doc['origin']}" if doc.get("origin") else "")
        + (" · inferred" if doc.get("inferred") else ""),
        f"duration {duration_text(span.duration_ms)}, starts at +"
        f"{duration_text((span.start - trace_start) * 1000)}",
        f"status: {span.status}" + (" (in progress)" if span.in_progress else ""),
    ]
    if span.is_async:
        lines.append("async: ends after its caller")
    if span.is_early:
        lines.append("starts before its parent")
    for section in ("annotations", "http", "aws", "sql"):
        if doc.get(section):
            _flatten(section, doc[section], lines)
    for exception in (doc.get("cause") or {}).get("exceptions") or []:
        if isinstance(exception, dict):
            lines.append(f"exception {exception.get('type', '')}: {exception.get('message', '')}")
    return "\n".join(lines)


def _ticks(total_s: float) -> str:
    step = 10 ** math.floor(math.log10(total_s / 5)) if total_s > 0 else 1
    for factor in (1, 2, 5, 10):
        if total_s / (step * factor) <= 8:
            step *= factor
            break
    parts = []
    value = 0.0
    while value <= total_s + 1e-12:
        x = LEFT + value / total_s * PLOT_W
        label = duration_text(value * 1000) if value else "0"
        parts.append(
            f'<g class="tick"><line x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="100%"/>'
            f'<text x="{x + 3:.1f}" y="{TOP - 10}">{esc(label)}</text></g>'
        )
        value += step
    return "".join(parts)


def _bar(span: Span, row: int, trace_start: float, total_s: float) -> str:
    x = LEFT + (span.start - trace_start) / total_s * PLOT_W
    width = max(1.0, span.duration_ms / 1000 / total_s * PLOT_W)
    y = TOP + row * (BAR_H + ROW_GAP)
    status = span.status
    is_async = span.is_async
    fill = f"url(#async-{status})" if is_async else TINTS[status]
    dash = ' stroke-dasharray="4 3"' if is_async or span.is_early else ""
    label = clip(f"{span.name} {duration_text(span.duration_ms)}", width - 8, LABEL_PX)
    if len(label) < 4:  # a lone ellipsis or two letters says nothing
        label = ""
    text = f'<text x="{x + 4:.2f}" y="{y + 14:.2f}">{esc(label)}</text>' if label else ""
    return (
        f'<g class="bar{" async" if is_async else ""}" data-id="{esc(span.id)}" '
        f'data-parent="{esc(span.parent.id if span.parent else "")}" data-depth="{span.depth}" '
        f'data-status="{status}" data-async="{str(is_async).lower()}" '
        f'data-early="{str(span.is_early).lower()}" '
        f'data-name="{esc(span.name)}">'
        f"<title>{esc(_details(span, trace_start))}</title>"
        f'<rect x="{x:.2f}" y="{y}" width="{width:.2f}" height="{BAR_H}" fill="{fill}" '
        f'stroke="{STATUS_COLOURS[status]}"{dash}/>{text}</g>'
    )


def _defs() -> str:
    patterns = "".join(
        f'<pattern id="async-{status}" width="8" height="8" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="8" height="8" fill="#fff"/>'
        f'<rect width="4" height="8" fill="{tint}"/></pattern>'
        for status, tint in TINTS.items()
    )
    return f"<defs>{patterns}</defs>"


def _legend(y: float) -> str:
    parts = [f'<g class="legend" transform="translate({LEFT},{y})">']
    x = 0.0
    for (label, _), status in zip(LEGEND, ("ok", "error", "throttle", "fault"), strict=True):
        parts.append(
            f'<rect x="{x:g}" y="-10" width="14" height="12" fill="{TINTS[status]}" '
            f'stroke="{STATUS_COLOURS[status]}"/><text x="{x + 19:g}" y="0">{esc(label)}</text>'
        )
        x += 34 + text_width(label, 12)
    parts.append(
        f'<rect x="{x:g}" y="-10" width="14" height="12" fill="url(#async-ok)" '
        f'stroke="{STATUS_COLOURS["ok"]}" stroke-dasharray="4 3"/>'
        f'<text x="{x + 19:g}" y="0">async (outlives its caller)</text></g>'
    )
    return "".join(parts)


def flame_svg(trace: dict[str, Any]) -> str:
    """The flame graph of one BatchGetTraces `Traces[]` item as a standalone SVG document."""
    tree = read_trace(trace)
    start = tree.start
    total_s = max(tree.end - start, 1e-6)
    rows = _lanes(tree)
    row_count = max(rows.values()) + 1
    height = TOP + row_count * (BAR_H + ROW_GAP) + 24
    width = LEFT * 2 + PLOT_W
    failing = sum(1 for span in tree.spans if span.status != "ok")
    subtitle = (
        f"{duration_text(total_s * 1000)} · {len(tree.spans)} spans · "
        f"{failing} with errors, throttles or faults"
    )
    bars = "".join(_bar(span, rows[id(span)], start, total_s) for span in tree.spans)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flame" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" data-trace-id="{esc(tree.id)}">'
        f"<style>{_STYLE}</style>{_defs()}"
        f'<rect width="100%" height="100%" fill="#fff"/>'
        f'<text class="title" x="{LEFT}" y="26">Trace {esc(tree.id)}</text>'
        f'<text class="subtitle" x="{LEFT}" y="46">{esc(subtitle)}</text>'
        f'{_legend(68)}<g class="axis">{_ticks(total_s)}</g>'
        f'<g class="bars">{bars}</g></svg>'
    )


def flame_html(trace: dict[str, Any]) -> str:
    """The flame graph as a self-contained HTML page (inline SVG; needs no network)."""
    trace_id = trace.get("Id", "") if isinstance(trace, dict) else ""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>Trace {esc(trace_id)}</title>'
        "<style>body{margin:0;background:#fff}</style></head>"
        f"<body>{flame_svg(trace)}</body></html>\n"
    )
