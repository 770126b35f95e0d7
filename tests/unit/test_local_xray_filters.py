"""GetTraceSummaries filter expressions."""

from __future__ import annotations

import pytest
from lambda_tracing_local.xray.filters import FilterError, TraceFacts, compile_filter

FACTS = TraceFacts(
    flags={"error", "throttle"},
    services={"checkout", "orders-table"},
    annotations={"customer": ["c-42"], "retries": [3.0], "beta": [True]},
    fields={
        "responsetime": 1.5,
        "duration": 2.0,
        "http.status": 429,
        "http.url": "https://shop.example/cart",
        "user": "ana",
    },
)


@pytest.mark.parametrize(
    ("expression", "matches"),
    [
        ("", True),
        ("error", True),
        ("fault", False),
        ("ok", False),
        ("throttle AND error", True),
        ("fault || throttle", True),
        ("!fault", True),
        ("NOT (fault OR ok)", True),
        ('service("checkout")', True),
        ('service("payments")', False),
        ('annotation.customer = "c-42"', True),
        ('annotation.customer != "c-42"', False),
        ("annotation.retries >= 3", True),
        ('annotation.retries = "3"', False),
        ("annotation.beta", True),
        ("annotation.missing", False),
        ("responsetime > 1 AND duration <= 2", True),
        ("http.status = 429", True),
        ('http.url CONTAINS "/cart"', True),
        ('http.url BEGINSWITH "https://shop" AND http.url ENDSWITH "cart"', True),
        ('user = "bob"', False),
    ],
)
def test_expressions(expression: str, matches: bool) -> None:
    assert compile_filter(expression)(FACTS) is matches


@pytest.mark.parametrize(
    "expression",
    [
        "fault AND",
        "(fault",
        "service(checkout)",
        "annotation.x =",
        "responsetime",
        "bogus",
        "fault fault",
        "http.status = 5 $",
        'annotation.k = "\\x"',  # an escape JSON does not know
        "(" * 3000 + "ok" + ")" * 3000,
        "!" * 5000 + "ok",
        "service(5)",
        'responsetime > "a"',
    ],
)
def test_bad_expressions_say_what_is_wrong(expression: str) -> None:
    """Each raises FilterError (the API's InvalidRequestException), never another error."""
    with pytest.raises(FilterError) as caught:
        compile_filter(expression)
    assert str(caught.value)


def test_nesting_is_fine_up_to_the_limit() -> None:
    assert compile_filter("(" * 50 + "error" + ")" * 50)(FACTS) is True
    assert compile_filter("!" * 51 + "error")(FACTS) is False
