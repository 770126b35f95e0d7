"""Properties of the merge and the percentiles, over generated graphs and histograms."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from service_map.formats import to_json
from service_map.statistics import percentiles
from service_map.summary import summarise

NAMES = ["api", "orders", "worker", "table", "queue"]
TYPES = ["AWS::Lambda::Function", "AWS::DynamoDB::Table", "client"]

# Few distinct values, so merged pages share buckets (-0.0 and 0.0 must be one bucket).
values = st.one_of(
    st.sampled_from([-0.0, 0.0, 0.002, 0.1, 0.30000000000000004, 1.5]),
    st.floats(min_value=0, max_value=30, allow_nan=False, allow_infinity=False),
)
histograms = st.lists(
    st.fixed_dictionaries({"Value": values, "Count": st.integers(0, 1000)}), max_size=8
)


@st.composite
def statistics(draw: st.DrawFn) -> dict:
    ok, errors, throttles, faults = (draw(st.integers(0, 500)) for _ in range(4))
    return {
        "OkCount": ok,
        "ErrorStatistics": {
            "ThrottleCount": throttles,
            "OtherCount": errors,
            "TotalCount": errors + throttles,
        },
        "FaultStatistics": {"OtherCount": faults, "TotalCount": faults},
        "TotalCount": ok + errors + throttles + faults,
        "TotalResponseTime": draw(st.floats(0, 1e4, allow_nan=False, allow_infinity=False)),
    }


@st.composite
def response_pages(draw: st.DrawFn, chunk: int) -> list[dict]:
    """One response over [chunk, chunk + 1) minutes, its services cut into pages."""
    keys = draw(
        st.lists(
            st.tuples(st.sampled_from(NAMES), st.sampled_from(TYPES)),
            min_size=1,
            max_size=6,
            unique=True,
        )
    )
    references = draw(st.permutations(range(len(keys))))
    services = []
    for (name, kind), reference in zip(keys, references, strict=True):
        targets = draw(st.lists(st.sampled_from(references), unique=True, max_size=3))
        edges = [
            {
                "ReferenceId": target,
                "SummaryStatistics": draw(statistics()),
                "ResponseTimeHistogram": draw(histograms),
                **(
                    {"EdgeType": "link", "ReceivedEventAgeHistogram": draw(histograms)}
                    if draw(st.booleans())
                    else {}
                ),
            }
            for target in targets
        ]
        service = {
            "ReferenceId": reference,
            "Name": name,
            "Type": kind,
            "Edges": edges,
            "Names": [name],
            "Root": draw(st.booleans()),
        }
        if kind != "client":
            service["SummaryStatistics"] = draw(statistics())
            service["ResponseTimeHistogram"] = draw(histograms)
        services.append(service)
    cut = draw(st.integers(0, len(services)))
    window = {"StartTime": chunk * 60.0, "EndTime": chunk * 60.0 + 60}
    return [{**window, "Services": services[:cut]}, {**window, "Services": services[cut:]}]


@st.composite
def shuffled_pages(draw: st.DrawFn) -> tuple[list[dict], list[dict]]:
    chunks = draw(st.integers(1, 3))
    pages = [page for chunk in range(chunks) for page in draw(response_pages(chunk))]
    return pages, draw(st.permutations(pages))


@settings(max_examples=80, deadline=None)
@given(shuffled_pages())
def test_merging_pages_in_any_order_gives_the_same_summary(pair: tuple[list, list]) -> None:
    pages, shuffled = pair
    # Compared as JSON text: dict equality would take -0.0 for 0.0.
    assert to_json(summarise(shuffled)) == to_json(summarise(pages))


@settings(max_examples=300, deadline=None)
@given(histograms)
def test_percentiles_are_monotone_and_within_the_histogram(histogram: list[dict]) -> None:
    merged: dict[float, int] = {}
    for entry in histogram:
        if entry["Count"]:
            merged[entry["Value"] + 0.0] = merged.get(entry["Value"] + 0.0, 0) + entry["Count"]
    found = percentiles(merged)
    if not merged:
        assert found == [None, None, None, None]
        return
    assert all(value is not None for value in found)
    p50, p90, p95, p99 = found
    assert p50 <= p90 <= p95 <= p99
    assert min(merged) <= p50 and p99 <= max(merged)
    # Nearest rank: at least p% of the samples are <= the p-th percentile.
    total = sum(merged.values())
    for p, value in zip((50, 90, 95, 99), found, strict=True):
        assert sum(c for v, c in merged.items() if v <= value) >= math.ceil(p * total / 100)


@settings(max_examples=40, deadline=None)
@given(shuffled_pages())
def test_summary_percentiles_are_monotone_and_within_range(pair: tuple[list, list]) -> None:
    pages, _ = pair
    summary = summarise(pages)
    for item in summary["nodes"] + summary["edges"]:
        stats = item["statistics"]
        if stats is None or stats["p50_ms"] is None:
            continue
        assert 0 <= stats["p50_ms"] <= stats["p90_ms"] <= stats["p95_ms"] <= stats["p99_ms"]
        assert stats["p99_ms"] <= 30_000
        assert 0 <= stats["fault_rate"] <= 1 or stats["requests"] == 0


def test_negative_zero_and_zero_are_one_bucket_whatever_the_order() -> None:
    def page(minute: int, value: float) -> dict:
        service = {
            "ReferenceId": 0,
            "Name": "api",
            "Type": "AWS::Lambda",
            "SummaryStatistics": {"TotalCount": 1, "OkCount": 1},
            "ResponseTimeHistogram": [{"Value": value, "Count": 1}],
        }
        return {"StartTime": minute * 60, "EndTime": minute * 60 + 60, "Services": [service]}

    one, two = page(0, -0.0), page(1, 0.0)
    first, second = to_json(summarise([one, two])), to_json(summarise([two, one]))
    assert first == second
    assert '"p50_ms": 0.0' in first and '"p50_ms": -0.0' not in first
