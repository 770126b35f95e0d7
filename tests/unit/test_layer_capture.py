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
        "headers": {
            "Authorization": "Basic abc",
            "Cookie": "s=1",
            "X-Api-Key": "k",
            "accept": "json",
        },
        "body": {"userPassword": "hunter2", "accessToken": "t", "name": "Ann"},
        "client_secret": {"nested": "whole value hidden"},
    }
    copy, truncated = capture(event)
    assert not truncated
    assert copy["headers"] == {
        "Authorization": REDACTED,
        "Cookie": REDACTED,
        "X-Api-Key": REDACTED,
        "accept": "json",
    }
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
    copy, _ = capture(
        {"card": "4111111111111111", "password": "p", "memo": "pin 1234"},
        redact_keys="card",
        redact_patterns=[r"pin \d+"],
    )
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
    copy, _ = capture(
        {
            "gen": generator,
            "obj": Hostile(),
            "raw": b"\x00\x01",
            "nan": float("nan"),
            "big": 10**40,
            Hostile(): 1,
        }
    )
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
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=40,
)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_any_value_gives_strict_json_within_budget(value: Any) -> None:
    copy, _ = capture(value, max_metadata_bytes=512)
    text = json.dumps(copy, allow_nan=False)
    assert len(text) < 512 + 1500


flat_keys = st.one_of(
    st.sampled_from(["statusCode", "body", "password", "X-Api-Key", "ok"]), st.text(max_size=12)
)
flat_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**62, max_value=2**70),
    st.text(max_size=40),
    st.sampled_from(["Bearer abcdefghijklmnop", "x" * 300, "é" * 30]),
    st.floats(),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(flat_keys, flat_values, max_size=8),
    st.sampled_from([64, 200, 16384]),
    st.sampled_from([16, 1024]),
)
def test_flat_dict_shortcut_equals_the_walk(value: dict[str, Any], budget: int, limit: int) -> None:
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
    response = {
        "statusCode": 200,
        "body": '{"ok": true}',
        "isBase64Encoded": False,
        "headers_count": 2,
        "Authorization": "Bearer abcdefghijklmnop",
    }
    assert capturer.flat_copy(response) == {**response, "Authorization": REDACTED}
    assert capturer.flat_copy({"note": "Bearer abcdefghijklmnop"}) is None  # pattern: walk
    assert capturer.flat_copy({"nested": {"a": 1}}) is None


# --- issue 17: capture never runs user code ---


class _Calls(list[str]):
    def note(self, name: str) -> None:
        self.append(name)


def test_a_dict_subclass_is_copied_without_calling_its_methods() -> None:
    calls = _Calls()

    class Draining(dict[str, Any]):
        def items(self) -> Any:
            calls.note("items")
            snapshot = list(super().items())
            self.clear()
            return snapshot

        def __iter__(self) -> Any:
            calls.note("__iter__")
            return super().__iter__()

        def __getattr__(self, name: str) -> Any:
            calls.note(name)
            raise AttributeError(name)

    response = Draining(statusCode=200, body="ok")
    copy, _ = capture({"wrapped": response})
    assert copy == {"wrapped": {"statusCode": 200, "body": "ok"}}
    assert calls == [] and response == {"statusCode": 200, "body": "ok"}
    copy, _ = capture(response)
    assert copy == {"statusCode": 200, "body": "ok"} and calls == []


def test_a_list_subclass_is_copied_without_calling_its_iterator() -> None:
    calls = _Calls()

    class Draining(list[int]):
        def __iter__(self) -> Any:
            calls.note("__iter__")
            while self:
                yield self.pop()

        def __len__(self) -> int:
            calls.note("__len__")
            return 0

    value = Draining([1, 2, 3])
    copy, _ = capture({"items": value})
    assert copy == {"items": [1, 2, 3]} and calls == [] and list.__len__(value) == 3


def test_numbers_strings_and_bytes_subclasses_are_read_through_the_builtins() -> None:
    calls = _Calls()

    class Number(int):
        def __abs__(self) -> int:
            calls.note("__abs__")
            return 0

        def __int__(self) -> int:
            calls.note("__int__")
            return 0

        def __str__(self) -> str:
            calls.note("__str__")
            return "x"

        __repr__ = __str__

    class Text(str):
        def __getitem__(self, index: Any) -> Any:
            calls.note("__getitem__")
            return ""

        def __len__(self) -> int:
            calls.note("__len__")
            return 0

    class Blob(bytes):
        def __len__(self) -> int:
            calls.note("__len__")
            return 0

    class Ratio(float):
        def __float__(self) -> float:
            calls.note("__float__")
            return 0.0

    copy, _ = capture(
        {
            "n": Number(7),
            "big": Number(10**30),
            "t": Text("hello"),
            "b": Blob(b"abc"),
            "r": Ratio(0.5),
        }
    )
    assert copy == {"n": 7, "big": str(10**30), "t": "hello", "b": "<3 bytes>", "r": 0.5}
    assert calls == []


def test_a_spoofed_class_and_slow_methods_are_never_asked() -> None:
    import time

    calls = _Calls()

    class Spoof:
        @property  # type: ignore[misc]
        def __class__(self) -> type:  # isinstance() would ask this
            calls.note("__class__")
            time.sleep(1)
            return dict

        def __getattr__(self, name: str) -> Any:
            calls.note(name)
            time.sleep(1)
            raise AttributeError(name)

        def __len__(self) -> int:
            calls.note("__len__")
            time.sleep(1)
            return 0

    started = time.perf_counter()
    copy, _ = capture({"spoof": Spoof(), "many": [Spoof()] * 20})
    assert time.perf_counter() - started < 0.5
    assert copy == {"spoof": "<Spoof>", "many": ["<Spoof>"] * 20} and calls == []


def test_an_int_too_long_for_str_is_named_by_its_size() -> None:
    copy, _ = capture({"huge": 1 << 20000})
    assert copy == {"huge": "<int of 20001 bits>"}


# --- issue 17: redaction inside JSON-string bodies and header pairs ---


def test_secrets_inside_a_json_string_body_are_redacted() -> None:
    body = json.dumps(
        {"user": "ann", "password": "hunter2", "nested": {"private-key": "-----BEGIN KEY-----"}}
    )
    response = {"statusCode": 200, "body": body}
    copy, _ = capture(response)
    assert "hunter2" not in json.dumps(copy) and "BEGIN KEY" not in json.dumps(copy)
    assert json.loads(copy["body"]) == {
        "user": "ann",
        "password": REDACTED,
        "nested": {"private-key": REDACTED},
    }
    # nothing secret named: the body is kept as it was, byte for byte, by the fast path
    plain = {"statusCode": 200, "body": '{"ok": true, "items": [1, 2]}'}
    assert Capturer(load({})).flat_copy(plain) == plain


def test_a_json_body_that_hides_a_key_in_escapes_or_nesting_is_still_redacted() -> None:
    escaped = '{"pass\\u0077ord": "hunter2"}'
    twice = json.dumps({"body": json.dumps({"token": "t0ps3cret"})})
    copy, _ = capture({"a": escaped, "b": twice, "event": {"body": escaped}})
    text = json.dumps(copy)
    assert "hunter2" not in text and "t0ps3cret" not in text


def test_a_json_body_too_big_to_parse_that_names_a_secret_is_withheld() -> None:
    from lambda_tracing.capture import JSON_BODY_LIMIT

    body = json.dumps({"password": "hunter2", "pad": "x" * JSON_BODY_LIMIT})
    copy, _ = capture({"body": body}, max_value_length=65536, max_metadata_bytes=60000)
    assert "hunter2" not in copy["body"] and copy["body"].startswith(REDACTED)


def test_header_pairs_naming_a_secret_are_redacted() -> None:
    response = {
        "headers": [["Authorization", "Basic c2VjcmV0"], ["Accept", "json"]],
        "tuples": (("X-Api-Key", "k-123"),),
        "cloudfront": {"x": [{"key": "Authorization", "value": "Bearer zz"}]},
        "alb": [{"name": "Set-Cookie", "value": "sid=abc"}, {"name": "a", "value": "b"}],
    }
    copy, _ = capture(response)
    assert copy["headers"] == [["Authorization", REDACTED], ["Accept", "json"]]
    assert copy["tuples"] == [["X-Api-Key", REDACTED]]
    assert copy["cloudfront"] == {"x": [{"key": "Authorization", "value": REDACTED}]}
    assert copy["alb"] == [{"name": "Set-Cookie", "value": REDACTED}, {"name": "a", "value": "b"}]


def test_key_fragments_ignore_separators_and_case() -> None:
    copy, _ = capture(
        {
            "private-key": "k1",
            "Private_Key": "k2",
            "PRIVATE KEY": "k3",
            "x-api-key": "k4",
            "apiKey": "k5",
            "keyboard": "fine",
        }
    )
    assert copy == {
        "private-key": REDACTED,
        "Private_Key": REDACTED,
        "PRIVATE KEY": REDACTED,
        "x-api-key": REDACTED,
        "apiKey": REDACTED,
        "keyboard": "fine",
    }


def test_the_default_jwt_pattern_is_linear_on_a_63_kb_run_of_eyj() -> None:
    import time

    capturer = Capturer(load({}, max_value_length=65536, max_metadata_bytes=60000))
    for text in ("eyJ" * 21_000, "Bearer " * 9_000, "bearer" * 10_500, "eyJa." * 12_600):
        started = time.perf_counter()
        capturer.capture({"body": text})
        assert time.perf_counter() - started < 0.5, text[:20]


def test_exception_messages_are_redacted_like_any_string() -> None:
    capturer = Capturer(load({}))
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2ln"
    assert capturer.clean_message(f"bad token {jwt}") == f"bad token {REDACTED}"
    assert "hunter2" not in capturer.clean_message('{"password": "hunter2"}')


def test_the_default_patterns_match_in_any_case_after_the_prefilter() -> None:
    copy, _ = capture({"a": "BEARER abcdefghijklmnop", "b": "BeArEr abcdefghijklmnop"})
    assert copy == {"a": REDACTED, "b": REDACTED}


def test_nothing_is_compiled_until_a_string_may_match() -> None:
    capturer = Capturer(load({}))
    capturer.capture({"statusCode": 200, "body": "plain text", "items": ["a", "b"]})
    assert capturer._compiled is None
    capturer.capture({"note": "Bearer abcdefghijklmnop"})
    assert capturer._compiled is not None


def test_a_secret_used_as_a_key_is_redacted_in_the_key() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2ln"
    copy, _ = capture({jwt: {"user": "ann"}, "plain": 2})
    assert copy == {REDACTED: {"user": "ann"}, "plain": 2}
    copy, _ = capture({f"session Bearer {'x' * 20}": 1})
    assert copy == {f"session {REDACTED}": 1}
