"""lambda_tracing.capture: redaction, truncation, byte budget, never touching user objects."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from lambda_tracing.capture import REDACTED, Capturer
from lambda_tracing.config import load


def capture(value: Any, **overrides: Any) -> tuple[Any, bool]:
    return Capturer(load({}, **overrides)).capture(value)


def test_default_keys_are_redacted_case_insensitively_and_by_fragment() -> None:
    event = {
        "headers": {"Authorization": "Basic abc", "Cookie": "s=1", "X-Api-Key": "k",
                    "accept": "json"},
        "body": {"userPassword": "hunter2", "accessToken": "t", "name": "Ann"},
        "client_secret": {"nested": "whole value hidden"},
    }
    copy, truncated = capture(event)
    assert not truncated
    assert copy["headers"] == {"Authorization": REDACTED, "Cookie": REDACTED,
                               "X-Api-Key": REDACTED, "accept": "json"}
    assert copy["body"] == {"userPassword": REDACTED, "accessToken": REDACTED, "name": "Ann"}
    assert copy["client_secret"] == REDACTED


def test_patterns_redact_credentials_inside_strings() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2ln"
    text = f"token {jwt} key AKIAABCDEFGHIJKLMNOP and Bearer abcdefghijklmnop end"
    copy, _ = capture({"note": text})
    assert jwt not in copy["note"] and "AKIAABCDEFGHIJKLMNOP" not in copy["note"]
    assert "abcdefghijklmnop" not in copy["note"]
    assert copy["note"].startswith("token ") and copy["note"].endswith(" end")


def test_configured_keys_and_patterns_replace_the_defaults() -> None:
    copy, _ = capture({"card": "4111111111111111", "password": "p", "memo": "pin 1234"},
                      redact_keys="card", redact_patterns=[r"pin \d+"])
    assert copy == {"card": REDACTED, "password": "p", "memo": REDACTED}


def test_a_pattern_with_a_backreference_works_beside_others() -> None:
    """Joined into one alternation, `\\1` would name the first pattern's group."""
    patterns = [r"(pin|pwd)=\d+", r"(['\"])sk_live_[A-Za-z0-9]+\1", r"token-[0-9]+"]
    capturer = Capturer(load(environ={}, redact_patterns=patterns))
    cleaned = capturer.clean_string("pin=1234 config='sk_live_abc123XYZ' token-99 ok")
    assert cleaned == f"{REDACTED} config={REDACTED} {REDACTED} ok"


def test_long_strings_are_truncated_and_say_so() -> None:
    copy, _ = capture({"body": "x" * 5000}, max_value_length=100)
    assert copy["body"].startswith("x" * 100)
    assert copy["body"].endswith("[truncated 4900 chars]")


def test_byte_budget_cuts_big_values_and_marks_them() -> None:
    big = {f"key{i}": "v" * 200 for i in range(1000)}
    copy, truncated = capture(big, max_metadata_bytes=4096)
    assert truncated
    assert len(json.dumps(copy)) < 4096 + 600
    assert copy["..."] == "[truncated]"


def test_user_objects_are_named_never_called_or_iterated() -> None:
    consumed: list[int] = []

    def numbers() -> Any:
        for n in range(3):
            consumed.append(n)
            yield n

    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("repr called")

        def __str__(self) -> str:
            raise RuntimeError("str called")

    generator = numbers()
    copy, _ = capture({"gen": generator, "obj": Hostile(), "raw": b"\x00\x01",
                       "nan": float("nan"), "big": 10**40, Hostile(): 1})
    assert consumed == []
    assert list(generator) == [0, 1, 2]
    assert copy["gen"] == "<generator>" and copy["obj"] == "<Hostile>"
    assert copy["raw"] == "<2 bytes>" and copy["nan"] == "nan"
    assert copy["<Hostile>"] == 1
    json.dumps(copy, allow_nan=False)


def test_deep_nesting_stops() -> None:
    value: Any = "leaf"
    for _ in range(100):
        value = [value]
    copy, truncated = capture(value)
    assert truncated
    assert "[too deep]" in json.dumps(copy)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=20), children, max_size=5),
    max_leaves=40,
)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_any_value_gives_strict_json_within_budget(value: Any) -> None:
    copy, _ = capture(value, max_metadata_bytes=512)
    text = json.dumps(copy, allow_nan=False)
    assert len(text) < 512 + 1500


flat_keys = st.one_of(st.sampled_from(["statusCode", "body", "password", "X-Api-Key", "ok"]),
                      st.text(max_size=12))
flat_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=2**62, max_value=2**70),
    st.text(max_size=40), st.sampled_from(["Bearer abcdefghijklmnop", "x" * 300, "é" * 30]),
    st.floats(), st.lists(st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(flat_keys, flat_values, max_size=8),
       st.sampled_from([64, 200, 16384]), st.sampled_from([16, 1024]))
def test_flat_dict_shortcut_equals_the_walk(value: dict[str, Any], budget: int,
                                            limit: int) -> None:
    """The one-loop copy of small flat dicts is only a shortcut: same copy, same flag."""
    from lambda_tracing.capture import _Walk

    capturer = Capturer(load({}, max_metadata_bytes=budget, max_value_length=limit))
    walk = _Walk(capturer)
    expected = walk.clean(value, 0)
    assert capturer.capture(value) == (expected, walk.truncated)
    shortcut = capturer.flat_copy(value)
    if shortcut is not None:
        assert shortcut == expected and not walk.truncated


def test_flat_dict_shortcut_takes_the_usual_response() -> None:
    capturer = Capturer(load({}))
    response = {"statusCode": 200, "body": '{"ok": true}', "isBase64Encoded": False,
                "headers_count": 2, "Authorization": "Bearer abcdefghijklmnop"}
    assert capturer.flat_copy(response) == {**response, "Authorization": REDACTED}
    assert capturer.flat_copy({"note": "Bearer abcdefghijklmnop"}) is None  # pattern: walk
    assert capturer.flat_copy({"nested": {"a": 1}}) is None
