"""Every setting of the layer, declared once: name, environment variables, parser, default.

`load(**overrides)` reads them into a frozen `Settings`. An explicit argument beats the
environment; a bad value (from either) falls back to the default with one warning, because a
typo in a tracing setting must never stop the user's function from starting.
"""

import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

logger = logging.getLogger(__name__)

_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "off", "n", "f"})
_CONTEXT_MISSING = ("RUNTIME_ERROR", "LOG_ERROR", "IGNORE_ERROR")
_FEW_REPEATS = 16  # repeats nested within this many runs stay polynomial and small
_ADDRESS = r"^\[?([A-Za-z0-9_.:-]{1,253}?)\]?:(\d{1,5})$"  # compiled only for a host name

DEFAULT_REDACT_KEYS = (
    "authorization",
    "password",
    "passwd",
    "secret",
    "token",
    "cookie",
    "apikey",
    "api_key",
    "api-key",
    "credential",
    "private_key",
    "signature",
)
# Values that look like credentials wherever they appear: JWTs, bearer tokens, AWS access keys.
# Each scans a string once: a match starts only where a token starts (not at every "eyJ"
# inside one), and possessive repeats never give back what they took, so a 64 KB run of
# "eyJeyJ..." costs one pass, not one per "eyJ". Each begins with its literal, which the regex
# engine finds by a fast search, and the token-start check follows as a lookbehind.
DEFAULT_REDACT_PATTERNS = (
    r"eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]*+",
    r"(?i:bearer)(?<![A-Za-z0-9](?i:bearer))\s++[A-Za-z0-9._~+/=-]{8,}+",
    r"A[KS]IA(?<![A-Za-z0-9_]A[KS]IA)[0-9A-Z]{16}\b",
)
DEFAULT_PATCH = ("botocore", "requests", "httpx", "urllib3")


class InvalidSetting(ValueError):
    """A value that a setting's parser rejects."""


# NamedTuples, not dataclasses: this module loads at every cold start, and making a dataclass
# costs about a millisecond.
class Settings(NamedTuple):
    enabled: bool = True
    service: str = "service_undefined"
    capture_response: bool = True
    capture_event: bool = False
    redact_keys: tuple[str, ...] = DEFAULT_REDACT_KEYS
    redact_patterns: tuple[str, ...] = DEFAULT_REDACT_PATTERNS
    max_value_length: int = 1024
    max_metadata_bytes: int = 16384
    log_trace_id: bool = True
    cold_start_breakdown: bool = True
    slow_imports: int = 10
    context_missing: str = "IGNORE_ERROR"
    daemon_address: tuple[str, int] = ("127.0.0.1", 2000)
    patch: tuple[str, ...] = DEFAULT_PATCH
    propagate_w3c: bool = False
    handler: str = ""
    exporter: str = "xray"


# --- parsers: str (from the environment) or an already-typed value (from an argument) ---


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidSetting(f"not a boolean: {value!r}")


def _int_between(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise InvalidSetting(f"not an integer: {value!r}")
        try:
            number = int(str(value).strip()) if isinstance(value, str) else int(value)
        except (TypeError, ValueError) as error:
            raise InvalidSetting(f"not an integer: {value!r}") from error
        if not low <= number <= high:
            raise InvalidSetting(f"{number} is outside {low}..{high}")
        return number

    return parse


def parse_names(value: Any) -> tuple[str, ...]:
    """Comma-separated names (or an iterable of them), lowercased, empties dropped."""
    items = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(str(item).strip().lower() for item in items if str(item).strip())
    if any(len(name) > 200 for name in names):
        raise InvalidSetting("name longer than 200 characters")
    return names


def parse_patch(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) and value.strip().lower() in ("none", "off", "false"):
        return ()
    return parse_names(value)


def parse_patterns(value: Any) -> tuple[str, ...]:
    """A JSON list of regular expressions, or comma-separated ones; each must compile."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                loaded = json.loads(text)
            except ValueError as error:
                raise InvalidSetting("not a JSON list of patterns") from error
            if not isinstance(loaded, list):
                raise InvalidSetting("not a JSON list of patterns")
            items = loaded
        else:
            items = text.split(",")
    else:
        items = list(value)
    patterns = tuple(str(item) for item in items if str(item).strip())
    if not patterns:
        raise InvalidSetting("no patterns given")
    for pattern in patterns:
        try:
            re.compile(pattern)
            unbounded = _backtracks_without_bound(pattern)
        except (re.error, RecursionError, OverflowError) as error:
            raise InvalidSetting(f"bad pattern {pattern!r}: {error}") from error
        if unbounded:
            raise InvalidSetting(f"pattern {pattern!r} can backtrack without bound ({unbounded})")
    return patterns


def parse_redact_keys(value: Any) -> tuple[str, ...]:
    """Key fragments; an empty list is a mistake (it would turn key redaction off unseen)."""
    names = parse_names(value)
    if not names:
        raise InvalidSetting("no keys given")
    return names


def _backtracks_without_bound(pattern: str) -> str | None:
    """Why `pattern` can take exponential time on some input, or None: a repeat inside a
    repeat (`(a+)+`), or a repeat over alternatives that can start alike (`(a|aa)+`). Possessive
    repeats and atomic groups never backtrack into themselves and are let through."""
    from re import _constants as sre  # type: ignore[attr-defined]
    from re import _parser  # type: ignore[attr-defined]

    repeats = (sre.MAX_REPEAT, sre.MIN_REPEAT)

    def walk(items: Any, outer: int) -> str | None:
        """`outer`: the most times the enclosing repeats may run their body (0: none)."""
        for op, arg in items:
            if op in repeats:
                _, high, body = arg
                if outer > 1 and high > 1 and max(outer, high) > _FEW_REPEATS:
                    return "a repeat inside a repeat"
                found = walk(body, max(outer, high))
                if found:
                    return found
            elif op is sre.BRANCH:
                alternatives = arg[1]
                if outer > _FEW_REPEATS and _alternatives_overlap(alternatives, sre):
                    return "a repeat over alternatives that can match alike"
                for alternative in alternatives:
                    found = walk(alternative, outer)
                    if found:
                        return found
            elif op is sre.SUBPATTERN:
                found = walk(arg[3], outer)
                if found:
                    return found
            elif op in (sre.ASSERT, sre.ASSERT_NOT):
                found = walk(arg[1], outer)
                if found:
                    return found
        return None

    return walk(_parser.parse(pattern), 0)


def _alternatives_overlap(alternatives: Any, sre: Any) -> bool:
    """Whether two alternatives may start with the same character (unknown counts as yes)."""
    seen: set[int] = set()
    for alternative in alternatives:
        first = list(alternative)[:1]
        if not first or first[0][0] is not sre.LITERAL:
            return True
        if first[0][1] in seen:
            return True
        seen.add(first[0][1])
    return False


def parse_service(value: Any) -> str:
    text = str(value).strip()
    if not text or len(text) > 200:
        raise InvalidSetting("service name must have 1..200 characters")
    return text


def parse_context_missing(value: Any) -> str:
    text = str(value).strip().upper()
    if text not in _CONTEXT_MISSING:
        raise InvalidSetting(f"expected one of {', '.join(_CONTEXT_MISSING)}")
    return text


def parse_daemon_address(value: Any) -> tuple[str, int]:
    """`host:port`, or the SDK's two-address form `tcp:h:p udp:h:p` (we only need UDP)."""
    if isinstance(value, tuple) and len(value) == 2:
        value = f"{value[0]}:{value[1]}"
    text = str(value).strip()
    parts = text.split()
    if len(parts) == 2:
        by_protocol = {part.split(":", 1)[0]: part.split(":", 1)[-1] for part in parts}
        if set(by_protocol) != {"tcp", "udp"}:
            raise InvalidSetting(f"bad daemon address {text!r}")
        text = by_protocol["udp"]
    elif len(parts) != 1:
        raise InvalidSetting(f"bad daemon address {text!r}")
    host, _, port = text.rpartition(":")
    if _is_ipv4(host) and port.isascii() and port.isdigit() and len(port) <= 5:
        number = int(port)  # what _ADDRESS reads from this form, without compiling it
    else:
        match = re.match(_ADDRESS, text)
        if not match:
            raise InvalidSetting(f"bad daemon address {text!r}")
        host, number = match.group(1), int(match.group(2))
    if not 0 < number < 65536:
        raise InvalidSetting(f"bad daemon address {text!r}")
    return host, number


def _is_ipv4(host: str) -> bool:
    parts = host.split(".")
    return len(parts) == 4 and all(
        part.isascii() and part.isdigit() and len(part) <= 3 for part in parts
    )


def parse_handler(value: Any) -> str:
    """As set: Lambda's runtime does not strip _HANDLER, and a name it cannot load must fail
    under the layer too."""
    return str(value)


EXPORTERS = ("xray", "otlp")


def parse_exporter(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in EXPORTERS:
        raise InvalidSetting(f"expected one of {', '.join(EXPORTERS)}")
    return text


class Setting(NamedTuple):
    name: str
    env: tuple[str, ...]
    parse: Callable[[Any], Any]
    doc: str


def _disabled_flag(value: Any) -> bool:
    """POWERTOOLS_TRACE_DISABLED=true means enabled=False."""
    return not parse_bool(value)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "enabled",
        ("LAMBDA_TRACING_ENABLED",),
        parse_bool,
        "Trace invocations at all (also off when POWERTOOLS_TRACE_DISABLED=true or "
        "AWS_XRAY_SDK_ENABLED=false).",
    ),
    Setting(
        "service",
        ("POWERTOOLS_SERVICE_NAME", "AWS_LAMBDA_FUNCTION_NAME"),
        parse_service,
        "Value of the Service annotation.",
    ),
    Setting(
        "capture_response",
        ("LAMBDA_TRACING_CAPTURE_RESPONSE", "POWERTOOLS_TRACER_CAPTURE_RESPONSE"),
        parse_bool,
        "Record the handler's (redacted, truncated) return value as metadata.",
    ),
    Setting(
        "capture_event",
        ("LAMBDA_TRACING_CAPTURE_EVENT",),
        parse_bool,
        "Record the (redacted, truncated) event as metadata.",
    ),
    Setting(
        "redact_keys",
        ("LAMBDA_TRACING_REDACT_KEYS",),
        parse_redact_keys,
        "Comma-separated key fragments; a captured value whose key contains one "
        "(case, '-', '_', '.' and spaces ignored) is replaced by [REDACTED]; an empty "
        "list keeps the defaults.",
    ),
    Setting(
        "redact_patterns",
        ("LAMBDA_TRACING_REDACT_PATTERNS",),
        parse_patterns,
        "Regular expressions (JSON list or comma-separated); matches inside captured "
        "strings and exception messages are replaced by [REDACTED]. A pattern that can "
        "backtrack without bound ('(a+)+$') is refused: the defaults are kept.",
    ),
    Setting(
        "max_value_length",
        ("LAMBDA_TRACING_MAX_VALUE_LENGTH",),
        _int_between(16, 65536),
        "Captured strings longer than this are truncated.",
    ),
    Setting(
        "max_metadata_bytes",
        ("LAMBDA_TRACING_MAX_METADATA_BYTES",),
        _int_between(256, 60000),
        "Budget of one captured event or response; beyond it the value is cut and marked.",
    ),
    Setting(
        "log_trace_id",
        ("LAMBDA_TRACING_LOG_TRACE_ID",),
        parse_bool,
        "Add xray_trace_id to log records (filter on the root logger).",
    ),
    Setting(
        "cold_start_breakdown",
        ("LAMBDA_TRACING_COLD_START_BREAKDOWN",),
        parse_bool,
        "On the cold start, record the user module's import as a subsegment.",
    ),
    Setting(
        "slow_imports",
        ("LAMBDA_TRACING_SLOW_IMPORTS",),
        _int_between(0, 100),
        "How many of the slowest imports get their own subsegment.",
    ),
    Setting(
        "context_missing",
        ("AWS_XRAY_CONTEXT_MISSING",),
        parse_context_missing,
        "What instrumented calls outside an invocation do: RUNTIME_ERROR, LOG_ERROR "
        "or IGNORE_ERROR.",
    ),
    Setting(
        "daemon_address",
        ("AWS_XRAY_DAEMON_ADDRESS",),
        parse_daemon_address,
        "Where segment documents are sent (UDP).",
    ),
    Setting(
        "patch",
        ("LAMBDA_TRACING_PATCH",),
        parse_patch,
        "Libraries to instrument at start-up (comma-separated, or none).",
    ),
    Setting(
        "propagate_w3c",
        ("LAMBDA_TRACING_PROPAGATE_W3C",),
        parse_bool,
        "Also send W3C traceparent headers on outbound calls.",
    ),
    Setting(
        "handler",
        ("LAMBDA_TRACING_HANDLER",),
        parse_handler,
        "The user's handler (module.function); set by the wrapper script from _HANDLER.",
    ),
    Setting(
        "exporter",
        ("LAMBDA_TRACING_EXPORTER",),
        parse_exporter,
        "xray: segment documents; otlp: OTLP spans in ADOT's UDP framing (and W3C "
        "traceparent on outbound calls). Both to AWS_XRAY_DAEMON_ADDRESS.",
    ),
)
_BY_NAME = {setting.name: setting for setting in SETTINGS}
_DEFAULTS = Settings()
_warned: set[tuple[str, str]] = set()


def _warn_once(source: str, value: Any, error: Exception, default: Any) -> None:
    key = (source, repr(value)[:200])
    if key in _warned:
        return
    _warned.add(key)
    logger.warning(
        "lambda_tracing: ignoring %s=%.200r (%s); using %r", source, value, error, default
    )


def _from_environment(setting: Setting, environ: Mapping[str, str]) -> Any:
    default = getattr(_DEFAULTS, setting.name)
    for variable in setting.env:
        raw = environ.get(variable)
        if raw is None or (raw.strip() == "" and setting.name != "patch"):
            continue
        try:
            return setting.parse(raw)
        except InvalidSetting as error:
            _warn_once(variable, raw, error, default)
            return default
    return default


def _enabled_from_environment(environ: Mapping[str, str]) -> bool:
    checks: tuple[tuple[str, Callable[[Any], bool]], ...] = (
        ("LAMBDA_TRACING_ENABLED", parse_bool),
        ("POWERTOOLS_TRACE_DISABLED", _disabled_flag),
        ("AWS_XRAY_SDK_ENABLED", parse_bool),
    )
    for variable, parse in checks:
        raw = environ.get(variable)
        if raw is None or not raw.strip():
            continue
        try:
            if not parse(raw):
                return False
        except InvalidSetting as error:
            _warn_once(variable, raw, error, True)
    return True


def load(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from `overrides` (explicit arguments), else the environment, else defaults."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name in Settings._fields:
        setting = _BY_NAME[name]
        if name in overrides and overrides[name] is not None:
            try:
                values[name] = setting.parse(overrides[name])
                continue
            except (InvalidSetting, TypeError, ValueError) as error:
                _warn_once(name, overrides[name], error, getattr(_DEFAULTS, name))
        if name == "enabled":
            values[name] = _enabled_from_environment(environ)
        else:
            values[name] = _from_environment(setting, environ)
    for unknown in sorted(set(overrides) - set(_BY_NAME)):
        _warn_once(unknown, overrides[unknown], InvalidSetting("unknown setting"), None)
    return Settings(**values)
