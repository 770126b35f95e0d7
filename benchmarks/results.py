"""What a benchmark section holds: per-run values for each variant, aligned by run index."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Series:
    """One variant's figures in one section; values[i] comes from run i of every variant.
    values: wall clock; cpu_values: the process's CPU time, far less disturbed by other load."""

    values: list[float] = field(default_factory=list)
    cpu_values: list[float] = field(default_factory=list)
    bytes_per_invocation: list[float] = field(default_factory=list)
    datagrams_per_invocation: list[float] = field(default_factory=list)
    unavailable: str | None = None


@dataclass
class Section:
    title: str
    unit: str
    series: dict[str, Series] = field(default_factory=dict)

    def mark_unavailable(self, variant_key: str, reason: str) -> None:
        self.series[variant_key] = Series(unavailable=reason)


def difference(title: str, minuend: Section, subtrahend: Section) -> Section:
    """A derived section: run by run, minuend minus subtrahend (e.g. per-call cost)."""
    derived = Section(title, minuend.unit)
    for key, first in minuend.series.items():
        second = subtrahend.series.get(key)
        if first.unavailable or second is None or second.unavailable:
            derived.mark_unavailable(
                key, first.unavailable or (second and second.unavailable) or "n/a"
            )
            continue
        derived.series[key] = Series(
            values=[a - b for a, b in zip(first.values, second.values, strict=False)],
            cpu_values=[a - b for a, b in zip(first.cpu_values, second.cpu_values, strict=False)],
        )
    return derived
