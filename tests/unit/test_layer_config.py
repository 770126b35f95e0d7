"""lambda_tracing.config: defaults, environment, explicit arguments, fallbacks, fuzzing."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lambda_tracing import config
from lambda_tracing.config import Settings, load


def test_defaults_with_an_empty_environment() -> None:
    loaded = load({})
    assert loaded == Settings()
    assert loaded.enabled is True
    assert loaded.capture_event is False
    assert loaded.capture_response is True
    assert loaded.log_trace_id is True
    assert loaded.patch == ("botocore", "requests", "httpx", "urllib3")
    assert loaded.propagate_w3c is False
    assert loaded.daemon_address == ("127.0.0.1", 2000)
    assert "authorization" in loaded.redact_keys and "cookie" in loaded.redact_keys


def test_every_setting_is_declared_once_with_an_environment_variable() -> None:
    declared = [setting.name for setting in config.SETTINGS]
    assert sorted(declared) == sorted(Settings._fields)
    assert len(declared) == len(set(declared))
    assert all(setting.env and setting.doc for setting in config.SETTINGS)


def test_environment_values_are_read() -> None:
    loaded = load(
        {
            "POWERTOOLS_SERVICE_NAME": "orders",
            "AWS_LAMBDA_FUNCTION_NAME": "fn",
            "LAMBDA_TRACING_CAPTURE_EVENT": "YES",
            "LAMBDA_TRACING_CAPTURE_RESPONSE": "0",
            "LAMBDA_TRACING_REDACT_KEYS": "Card, ssn,,",
            "LAMBDA_TRACING_REDACT_PATTERNS": '["\\\\d{16}", "x,y"]',
            "LAMBDA_TRACING_SLOW_IMPORTS": " 3 ",
            "AWS_XRAY_CONTEXT_MISSING": "log_error",
            "AWS_XRAY_DAEMON_ADDRESS": "tcp:10.0.0.1:2000 udp:10.0.0.2:3000",
            "LAMBDA_TRACING_PATCH": "botocore, Requests",
            "LAMBDA_TRACING_PROPAGATE_W3C": "true",
        }
    )
    assert loaded.service == "orders"
    assert loaded.capture_event is True and loaded.capture_response is False
    assert loaded.redact_keys == ("card", "ssn")
    assert loaded.redact_patterns == ("\\d{16}", "x,y")
    assert loaded.slow_imports == 3
    assert loaded.context_missing == "LOG_ERROR"
    assert loaded.daemon_address == ("10.0.0.2", 3000)
    assert loaded.patch == ("botocore", "requests")
    assert loaded.propagate_w3c is True


def test_service_falls_back_to_the_function_name() -> None:
    assert load({"AWS_LAMBDA_FUNCTION_NAME": "fn"}).service == "fn"


@pytest.mark.parametrize(
    "environ",
    [
        {"LAMBDA_TRACING_ENABLED": "false"},
        {"POWERTOOLS_TRACE_DISABLED": "true"},
        {"AWS_XRAY_SDK_ENABLED": "false"},
        {"POWERTOOLS_TRACE_DISABLED": "1", "LAMBDA_TRACING_ENABLED": "true"},
    ],
)
def test_tracing_can_be_disabled_by_any_of_the_known_variables(environ: dict[str, str]) -> None:
    assert load(environ).enabled is False


def test_explicit_arguments_beat_the_environment() -> None:
    environ = {"LAMBDA_TRACING_CAPTURE_RESPONSE": "true", "POWERTOOLS_TRACE_DISABLED": "true"}
    loaded = load(environ, capture_response=False, enabled=True, slow_imports="4")
    assert loaded.capture_response is False
    assert loaded.enabled is True
    assert loaded.slow_imports == 4


def test_bad_values_fall_back_to_defaults_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config._warned.clear()
    environ = {
        "LAMBDA_TRACING_CAPTURE_EVENT": "maybe",
        "LAMBDA_TRACING_SLOW_IMPORTS": "-3",
        "AWS_XRAY_DAEMON_ADDRESS": "nonsense",
        "LAMBDA_TRACING_REDACT_PATTERNS": "[unclosed",
        "AWS_XRAY_CONTEXT_MISSING": "EXPLODE",
    }
    with caplog.at_level(logging.WARNING, logger="lambda_tracing.config"):
        first = load(environ)
        second = load(environ)
    assert first == second == Settings()
    warned = [record.getMessage() for record in caplog.records]
    assert len(warned) == 5, warned
    assert any("LAMBDA_TRACING_CAPTURE_EVENT" in message for message in warned)


def test_bad_explicit_argument_falls_back_to_the_environment() -> None:
    config._warned.clear()
    loaded = load({"LAMBDA_TRACING_SLOW_IMPORTS": "7"}, slow_imports="lots")
    assert loaded.slow_imports == 7


def test_unknown_argument_is_ignored_not_raised() -> None:
    assert load({}, no_such_setting=1) == Settings()


def test_patch_can_be_turned_off() -> None:
    assert load({"LAMBDA_TRACING_PATCH": "none"}).patch == ()
    assert load({"LAMBDA_TRACING_PATCH": ""}).patch == ()


def test_daemon_address_forms() -> None:
    assert config.parse_daemon_address("localhost:2000") == ("localhost", 2000)
    assert config.parse_daemon_address(("127.0.0.1", 9)) == ("127.0.0.1", 9)
    for bad in ("127.0.0.1", "h:0", "h:70000", "a:1 b:2", "udp:h:1 udp:h:2", ":80"):
        with pytest.raises(config.InvalidSetting):
            config.parse_daemon_address(bad)


env_names = st.sampled_from(
    sorted(
        {name for s in config.SETTINGS for name in s.env}
        | {"POWERTOOLS_TRACE_DISABLED", "AWS_XRAY_SDK_ENABLED"}
    )
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(env_names, st.text(max_size=80), max_size=12))
def test_any_environment_gives_valid_settings(environ: dict[str, str]) -> None:
    loaded = load(environ)
    assert isinstance(loaded.enabled, bool)
    assert 16 <= loaded.max_value_length <= 65536
    assert 256 <= loaded.max_metadata_bytes <= 60000
    assert 0 <= loaded.slow_imports <= 100
    assert loaded.context_missing in ("RUNTIME_ERROR", "LOG_ERROR", "IGNORE_ERROR")
    host, port = loaded.daemon_address
    assert host and 0 < port < 65536
    assert loaded.service and len(loaded.service) <= 200
    assert all(isinstance(name, str) and name for name in loaded.patch)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(list(Settings._fields)),
        st.one_of(
            st.text(max_size=40),
            st.integers(),
            st.booleans(),
            st.none(),
            st.lists(st.text(max_size=10), max_size=3),
        ),
        max_size=6,
    )
)
def test_any_explicit_arguments_give_valid_settings(overrides: dict[str, object]) -> None:
    loaded = load({}, **overrides)
    assert isinstance(loaded, Settings)
    assert isinstance(loaded.capture_response, bool)
    assert isinstance(loaded.redact_patterns, tuple)


# --- issue 17: redaction settings that would silently weaken or hang redaction ---


@pytest.mark.parametrize("value", [" , , ", ",", " ,"])
def test_an_empty_key_list_keeps_the_default_keys_with_a_warning(
    value: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config._warned.clear()
    with caplog.at_level(logging.WARNING, logger="lambda_tracing.config"):
        settings = load({"LAMBDA_TRACING_REDACT_KEYS": value})
    assert settings.redact_keys == config.DEFAULT_REDACT_KEYS
    assert any("LAMBDA_TRACING_REDACT_KEYS" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    "pattern", ["(a+)+$", "(a|aa)+$", r"(\w+\s?)+$", "(x*)*y", "(a+){50}", "(?:(?:a)+b?)+c"]
)
def test_patterns_that_can_backtrack_without_bound_are_refused_when_read(
    pattern: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import json

    config._warned.clear()
    with caplog.at_level(logging.WARNING, logger="lambda_tracing.config"):
        settings = load({"LAMBDA_TRACING_REDACT_PATTERNS": json.dumps([r"pin \d+", pattern])})
    assert settings.redact_patterns == config.DEFAULT_REDACT_PATTERNS
    assert any("backtrack" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    "pattern",
    [
        r"pin \d+",
        r"(pin|pwd)=\d+",
        "(?:ab|cd)+",
        "(a{1,3}){2}",
        r"sk_live_[A-Za-z0-9]++",
        "(?>a+)+",
        "a+b+c+",
    ],
)
def test_ordinary_patterns_are_accepted(pattern: str) -> None:
    assert load({}, redact_patterns=[pattern]).redact_patterns == (pattern,)


def test_an_empty_pattern_list_keeps_the_defaults() -> None:
    assert load({"LAMBDA_TRACING_REDACT_PATTERNS": "[]"}).redact_patterns == (
        config.DEFAULT_REDACT_PATTERNS
    )
