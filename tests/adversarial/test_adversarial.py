"""Every adversarial case, bare and through the built layer under awslambdaric: nothing the
user can see may differ beyond the case's allowed (documented) differences (issue 17).

Cases run in a small pool of threads (each case's own processes and UDP listener, so they
cannot disturb one another), started together on the first test; each test waits for its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from case import Case
from harness import Harness, Verdict, collect_cases

# Two cores, shared: a few cases at once keeps the suite short without starving the timings.
ALL_CASES = collect_cases()
WORKERS = int(os.environ.get("ADVERSARIAL_WORKERS", "3"))


@pytest.fixture(scope="module")
def verdicts(
    tmp_path_factory: pytest.TempPathFactory, segment_validator: Any
) -> Iterator[dict[str, Future[Verdict]]]:
    harness = Harness(tmp_path_factory.mktemp("adversarial"))
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="case") as pool:
        futures = {
            case.name: pool.submit(harness.run, case, segment_validator) for case in ALL_CASES
        }
        yield futures
        for future in futures.values():
            future.cancel()


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda case: case.name)
def test_layer_changes_nothing_the_user_sees(
    case: Case, verdicts: dict[str, Future[Verdict]]
) -> None:
    verdict = verdicts[case.name].result()
    # A case whose own source does not compile compares nothing (unless that is its point).
    if "syntax" not in case.name:
        assert all(
            invoked.error_type != "Runtime.UserCodeSyntaxError"
            for invoked in verdict.bare.invocations
        ), verdict.bare.invocations[0].report
    assert not verdict.differences, (
        f"{case.name} ({case.note}):\n"
        + "\n".join(verdict.differences)
        + f"\n--- layer log ---\n{verdict.layer.log[-3000:]}"
    )


def test_cases_are_many_and_named_once() -> None:
    print(f"adversarial cases: {len(ALL_CASES)}")
    assert len({case.name for case in ALL_CASES}) == len(ALL_CASES)
