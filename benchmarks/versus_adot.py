"""Issue 15's goals, read off one run: our OTLP mode against ADOT (added cold start <= 0.1x,
warm overhead <= 0.5x) and both our modes against Powertools Tracer (<= 0.5x), each as the
median over runs of the added time (variant minus bare handler, run by run), wall and CPU."""

from __future__ import annotations

from collections.abc import Iterable

from results import Section
from table import _median, paired_added

ROWS = (("ours_otlp", "adot"), ("ours_otlp", "powertools"), ("ours", "powertools"))


def _added(section: Section, key: str, cpu: bool) -> float | None:
    series, bare = section.series.get(key), section.series.get("bare")
    if series is None or bare is None:
        return None
    return _median(paired_added(series, bare, cpu=cpu))


def _ratio(section: Section, key: str, versus: str, cpu: bool) -> str:
    mine, theirs = _added(section, key, cpu), _added(section, versus, cpu)
    if mine is None or not theirs:
        return "n/a"
    return f"{mine / theirs:.2f}x"


def render_versus_adot(sections: Iterable[Section]) -> str:
    lines = [
        "added time, ratio of medians (wall / CPU):  "
        + "  ".join(f"{key}/{versus}" for key, versus in ROWS)
    ]
    for section in sections:
        if "adot" not in section.series:
            continue
        cells = [
            f"{_ratio(section, key, versus, False)} / {_ratio(section, key, versus, True)}"
            for key, versus in ROWS
        ]
        lines.append(f"  {section.title}: " + "  ".join(cells))
    return "\n".join(lines)
