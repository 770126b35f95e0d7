"""Summary statistics and the one printed table."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from typing import Any

from results import Section, Series

REFERENCE = "bare"
ANCHOR = "powertools"


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    magnitude = abs(value)
    if magnitude >= 100 or unit == "B":
        text = f"{value:.0f}"
    elif magnitude >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return text


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def paired_added(series: Series, reference: Series | None, cpu: bool = False) -> list[float]:
    if reference is None or reference.unavailable or series.unavailable:
        return []
    values, bases = (
        (series.cpu_values, reference.cpu_values) if cpu else (series.values, reference.values)
    )
    return [value - base for value, base in zip(values, bases, strict=False)]


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def section_rows(section: Section, labels: dict[str, str]) -> list[list[str]]:
    reference = section.series.get(REFERENCE)
    anchor = section.series.get(ANCHOR)
    anchor_added = _median(paired_added(anchor, reference)) if anchor else None
    anchor_cpu_added = _median(paired_added(anchor, reference, cpu=True)) if anchor else None
    reference_median = (
        _median(reference.values) if reference and not reference.unavailable else None
    )
    rows = []
    ordered = [key for key in labels if key in section.series]
    for key in ordered:
        series = section.series[key]
        label = "  " + labels[key]
        if series.unavailable or not series.values:
            rows.append([label, f"  n/a ({series.unavailable or 'no data'})"])
            continue
        median = statistics.median(series.values)
        added = _median(paired_added(series, reference)) if key != REFERENCE else None
        times_bare = median / reference_median if reference_median and key != REFERENCE else None
        versus_anchor = (
            added / anchor_added
            if added is not None and anchor_added and key not in (REFERENCE, ANCHOR)
            else None
        )
        cpu_added = _median(paired_added(series, reference, cpu=True)) if key != REFERENCE else None
        cpu_versus_anchor = (
            cpu_added / anchor_cpu_added
            if cpu_added is not None and anchor_cpu_added and key not in (REFERENCE, ANCHOR)
            else None
        )
        rows.append(
            [
                label,
                _number(median),
                _number(min(series.values)),
                _number(max(series.values)),
                _number(added),
                _ratio(times_bare),
                _ratio(versus_anchor),
                _number(cpu_added),
                _ratio(cpu_versus_anchor),
                _number(_median(series.bytes_per_invocation), "B"),
                _number(_median(series.datagrams_per_invocation)),
            ]
        )
    return rows


HEADER = [
    "measure / variant",
    "median",
    "min",
    "max",
    "added vs bare",
    "x bare",
    "added / Powertools added",
    "CPU added",
    "CPU added / Powertools",
    "bytes/inv",
    "datagrams/inv",
]


def render(sections: Iterable[Section], labels: dict[str, str], extra: list[dict[str, Any]]) -> str:
    body: list[list[str]] = []
    for section in sections:
        body.append([f"{section.title} [{section.unit}]"])
        body.extend(section_rows(section, labels))
    widths = [len(title) for title in HEADER]
    for row in body:
        if len(row) == len(HEADER):
            widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=False)]
    lines = [_line(HEADER, widths), "  ".join("-" * width for width in widths)]
    for row in body:
        if len(row) == len(HEADER):
            lines.append(_line(row, widths))
        elif len(row) == 2:
            lines.append(row[0].ljust(widths[0]) + row[1])
        else:
            lines.append(row[0])
    if extra:
        lines.append("")
        lines.extend(render_other_rows(extra))
    return "\n".join(lines)


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    first = cells[0].ljust(widths[0])
    rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=False)]
    return "  ".join([first, *rest])


_NAME_KEYS = ("section", "name", "row", "label", "benchmark", "metric")
_STAT_KEYS = ("median", "min", "max", "unit")


def render_other_rows(rows: list[dict[str, Any]]) -> list[str]:
    """Rows from the other benchmark modules: name, median [min..max] unit, then the rest."""
    lines = []
    for row in rows:
        name = " / ".join(str(row[key]) for key in _NAME_KEYS if key in row) or "(unnamed)"
        unit = row.get("unit", "")
        if "median" in row:
            stats = f"{_fmt_any(row['median'])} {unit}".rstrip()
            if "min" in row or "max" in row:
                stats += f" (min {_fmt_any(row.get('min'))}, max {_fmt_any(row.get('max'))})"
        else:
            stats = ""
        rest = ", ".join(
            f"{key}={_fmt_any(value)}"
            for key, value in row.items()
            if key not in _NAME_KEYS and key not in _STAT_KEYS
        )
        lines.append("  ".join(part for part in (name + ":", stats, rest) if part))
    return lines


def _fmt_any(value: Any) -> str:
    if isinstance(value, float):
        return _number(value)
    return str(value)
