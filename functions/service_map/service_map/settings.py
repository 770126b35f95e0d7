"""Every setting of the service-map Lambda, read once from its environment."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from service_map.health import Thresholds

N = TypeVar("N", int, float)


@dataclass(frozen=True)
class Settings:
    bucket: str
    groups: tuple[str, ...] = ("Default",)
    schedule_minutes: int = 5
    chunk: timedelta = timedelta(hours=6)
    prefix: str = "service-map/"
    settle: timedelta = timedelta(seconds=60)
    catch_up_windows: int = 12
    metric_nodes: int = 20
    metric_edges: int = 50
    namespace: str = "LambdaTracing"
    max_attempts: int = 8
    thresholds: Thresholds = field(default_factory=Thresholds)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """SUMMARY_BUCKET (required); XRAY_GROUPS (comma-separated, default Default);
        SCHEDULE_MINUTES (5); CHUNK_HOURS (6); SUMMARY_PREFIX (service-map/); SETTLE_SECONDS
        (60: how long after a window ends it is read); CATCH_UP_WINDOWS (12: missed windows
        redone per run); METRICS_MAX_NODES (20) and METRICS_MAX_EDGES (50): cardinality caps;
        POWERTOOLS_METRICS_NAMESPACE (LambdaTracing); AWS_MAX_ATTEMPTS (8, adaptive retries);
        health and regression thresholds as in ``Thresholds.from_env``."""
        bucket = environ.get("SUMMARY_BUCKET", "").strip()
        if not bucket:
            raise ValueError("SUMMARY_BUCKET is not set")
        groups = tuple(g.strip() for g in environ.get("XRAY_GROUPS", "Default").split(","))
        groups = tuple(dict.fromkeys(g for g in groups if g)) or ("Default",)
        prefix = environ.get("SUMMARY_PREFIX", "service-map/").strip()
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return cls(
            bucket=bucket,
            groups=groups,
            schedule_minutes=_number(environ, "SCHEDULE_MINUTES", 5, int, least=1),
            chunk=timedelta(hours=_number(environ, "CHUNK_HOURS", 6.0, float, least=1 / 60)),
            prefix=prefix,
            settle=timedelta(seconds=_number(environ, "SETTLE_SECONDS", 60, int, least=0)),
            catch_up_windows=_number(environ, "CATCH_UP_WINDOWS", 12, int, least=1),
            metric_nodes=_number(environ, "METRICS_MAX_NODES", 20, int, least=0),
            metric_edges=_number(environ, "METRICS_MAX_EDGES", 50, int, least=0),
            namespace=environ.get("POWERTOOLS_METRICS_NAMESPACE", "").strip() or "LambdaTracing",
            max_attempts=_number(environ, "AWS_MAX_ATTEMPTS", 8, int, least=1),
            thresholds=Thresholds.from_env(environ),
        )


def _number(
    environ: Mapping[str, str], name: str, default: N, kind: Callable[[str], N], least: float
) -> N:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a {getattr(kind, '__name__', kind)}") from None
    if value < least:  # type: ignore[operator]
        raise ValueError(f"{name}={raw!r} is below {least}")
    return value
