"""Events, responses and exception messages as metadata: redacted, truncated, within a budget.

The copy is built in one pass that never runs user code. Values are read by their exact type
(`type(value) is dict`, never isinstance, which asks an object for its `__class__`); a subclass
of a built-in type is read through the built-in type's own methods (`dict.items(value)`,
`str.__str__(value)`, ...), so an overridden `items`, `__iter__`, `__len__`, `__abs__` or
`__str__` is never called; anything else is reported only by its type's name.

Redaction: a value under a key that names a secret (`password`, `private-key`, ...: separators
and case ignored) is replaced; so is the value of a header pair naming one
(`[["Authorization", "..."]]`, `{"name": "Authorization", "value": "..."}`); patterns
(JWTs, bearer tokens, access keys) are replaced inside every string; and a string holding JSON
(an API Gateway `body`) that may name a secret key is parsed and cleaned the same way, up to
JSON_BODY_LIMIT characters (a bigger one is withheld whole).
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any

from lambda_tracing.config import DEFAULT_REDACT_PATTERNS, Settings

REDACTED = "[REDACTED]"
SECRET_KEY = 1  # a key naming a secret: its value is redacted
SECRET_IN_KEY = 2  # a key holding one (a token as a dict key): the key is redacted
JSON_BODY_LIMIT = 65536  # characters of a JSON-string body parsed to look for secret keys
_MAX_DEPTH = 32
_MAX_JSON_NESTING = 3  # JSON in a string in JSON in a string...: deeper is withheld
_KEY_CACHE_LIMIT = 4096
_FLAT_MAX_ITEMS = 16
_PLAIN_CACHE_CHARS = 64
_NO_PATTERNS: list[re.Pattern[str]] = []  # shared, never changed
_PAIR_NAMES = ("name", "key", "Name", "Key")
_PAIR_VALUES = ("value", "Value")
_type_name = type.__dict__["__name__"].__get__  # a metaclass cannot fake it through this
_type_module = type.__dict__["__module__"].__get__
_type_mro = type.__dict__["__mro__"].__get__
_type_dict = type.__dict__["__dict__"].__get__
_exception_args = BaseException.__dict__["args"].__get__
_SCALARS = (str, int, float, bool, type(None))
_REDACTION_VARIABLES = (
    "LAMBDA_TRACING_REDACT_KEYS",
    "LAMBDA_TRACING_REDACT_PATTERNS",
    "LAMBDA_TRACING_MAX_VALUE_LENGTH",
    "LAMBDA_TRACING_MAX_METADATA_BYTES",
)
_message_capturer: tuple[tuple[str | None, ...], Capturer] | None = None


def type_name(kind: type) -> str:
    return _type_name(kind)  # type: ignore[no-any-return]


class Capturer:
    """Makes JSON-safe, redacted copies of values; one per Settings."""

    def __init__(self, settings: Settings) -> None:
        self.max_value_length = settings.max_value_length
        self.max_bytes = settings.max_metadata_bytes
        self._fragments = _key_fragments(settings.redact_keys)
        # Compiled on the first string that may hold a match: compiling costs milliseconds of
        # the first invocation, and most responses hold nothing a default pattern could match.
        self._pattern_sources = settings.redact_patterns
        self._compiled: list[re.Pattern[str]] | None = None
        self._defaults = settings.redact_patterns == DEFAULT_REDACT_PATTERNS
        self._keys: dict[str, tuple[int, int]] = {}
        # Short strings found clean (nothing to redact, not JSON naming a key), with their JSON
        # length: the same response values come back on every invocation, and checking one
        # again costs three calls.
        self._plain: dict[str, int] = {}

    def patterns_for(self, text: str) -> list[re.Pattern[str]]:
        """The patterns to run on `text`: with the defaults, only those whose literal `text`
        contains (each alone: joined, they would lose the engine's fast literal search), and
        none compiled before a string needs one."""
        if not self._defaults:
            if self._compiled is None:
                self._compiled = _one_pattern(self._pattern_sources)
            return self._compiled
        jwt = "eyJ" in text
        access_key = "AKIA" in text or "ASIA" in text
        bearer = "bearer" in text.lower()
        if not (jwt or bearer or access_key):
            return _NO_PATTERNS
        wanted = (jwt, bearer, access_key)
        if self._compiled is None:
            self._compiled = [re.compile(pattern) for pattern in self._pattern_sources]
        return [pattern for pattern, want in zip(self._compiled, wanted, strict=True) if want]

    def capture(self, value: Any) -> tuple[Any, bool]:
        """(JSON-safe copy, whether anything was cut for size)."""
        if type(value) is dict and len(value) <= _FLAT_MAX_ITEMS:
            copy = self.flat_copy(value)
            if copy is not None:
                return copy, False
        walk = _Walk(self)
        copy = walk.clean(value, 0)
        return copy, walk.truncated

    def flat_copy(self, value: dict[Any, Any]) -> dict[str, Any] | None:
        """What the walk makes of a small dict of short strings, numbers and flags (the usual
        `{"statusCode": 200, "body": "..."}`), in one loop; None if anything in it needs the
        walk: nesting, a long or secret-bearing string, a key to convert, or a tight budget."""
        out: dict[str, Any] = {}
        cost = 0
        keys = self._keys
        plain = self._plain
        for key, item in dict.items(value):
            if type(key) is not str or len(key) > 200:
                return None
            secret, key_cost = keys.get(key) or self.key_info(key)
            kind = type(item)
            if secret == SECRET_IN_KEY:
                return None
            if secret:
                item = REDACTED
                cost += key_cost + len(REDACTED) + 2
            elif kind is str:
                length = plain.get(item)
                if length is None:
                    if len(item) > self.max_value_length or self.may_hide_keys(item):
                        return None
                    for pattern in self.patterns_for(item):
                        if pattern.search(item) is not None:
                            return None
                    length = _json_length(item)
                    if len(item) <= _PLAIN_CACHE_CHARS and len(plain) < _KEY_CACHE_LIMIT:
                        plain[item] = length
                cost += key_cost + length
            elif kind is int:
                if not -(1 << 63) < item < 1 << 63:
                    return None
                cost += key_cost + 20
            elif kind is bool or item is None:
                cost += key_cost + 5
            else:
                return None
            out[key] = item
        return out if cost < self.max_bytes else None

    def key_info(self, key: str) -> tuple[int, int]:
        """(SECRET_KEY if `key` names a secret, SECRET_IN_KEY if it holds one itself (a token
        used as a key), else 0; bytes of `"key":` in JSON); cached, as the same keys come back
        on every invocation."""
        info = self._keys.get(key)
        if info is None:
            if self.is_secret_key(key):
                secret = SECRET_KEY
            else:
                secret = SECRET_IN_KEY if self.clean_string(key) != key else 0
            info = (secret, _json_length(key) + 2)
            if len(self._keys) < _KEY_CACHE_LIMIT:
                self._keys[key] = info
        return info

    def is_secret_key(self, key: str) -> bool:
        plain = _without_separators(key)
        for fragment in self._fragments:  # noqa: SIM110 - a loop: any() over a generator costs more
            if fragment in plain:
                return True
        return False

    def may_hide_keys(self, text: str) -> bool:
        """Whether `text` may be JSON naming a secret key: an object or array whose text
        contains a key fragment (or escapes that could spell one). One scan, no parsing."""
        start = text[:1]
        if start != "{" and start != "[":
            if not start.isspace():
                return False
            start = text[:64].lstrip()[:1]
            if start != "{" and start != "[":
                return False
        if "\\u" in text:
            return True
        return self.is_secret_key(text)

    def clean_string(self, text: str) -> str:
        """`text` with secret patterns replaced, cut to max_value_length."""
        limit = self.max_value_length
        # Redact before cutting (a secret cut in half would no longer match), but only scan
        # a bounded prefix of huge strings.
        head = text[: limit + 512] if len(text) > limit + 512 else text
        for pattern in self.patterns_for(head):
            if pattern.search(head) is not None:  # a search allocates nothing when none match
                head = pattern.sub(REDACTED, head)
        if len(head) > limit:
            return head[:limit] + f"...[truncated {len(text) - limit} chars]"
        return head

    def clean_message(self, value: Any) -> str:
        """An exception message (any value) as a redacted, truncated string."""
        copy = _Walk(self).clean(value, 0)
        return copy if type(copy) is str else json.dumps(copy)


def _json_length(text: str) -> int:
    """Bytes `text` takes as a JSON string (ASCII output escapes the rest, up to 12 each)."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return len(text) + 2
    return len(json.dumps(text))


def _key_fragments(keys: tuple[str, ...]) -> tuple[str, ...]:
    """The key fragments lowercased, separators dropped (looked for in keys with theirs
    dropped: `private-key`, `Private_Key`, `privatekey` alike); plain substring tests, no
    regular expression to compile."""
    return tuple(sorted({_without_separators(key) for key in keys} - {""}))


def _without_separators(text: str) -> str:
    """`text` lowercased without `-`, `_`, `.` and spaces (str.translate, per character, is
    several times slower for the short strings this sees)."""
    return text.lower().replace("-", "").replace("_", "").replace(".", "").replace(" ", "")


def _one_pattern(patterns: tuple[str, ...]) -> list[re.Pattern[str]]:
    """The patterns without groups as one alternation (one scan per string); a pattern with
    groups on its own, since joined its backreferences would count another's groups, and
    likewise one that cannot be joined (global inline flags)."""
    if not patterns:
        return []
    compiled = [re.compile(pattern) for pattern in patterns]
    plain = [pattern.pattern for pattern in compiled if pattern.groups == 0]
    rest = [pattern for pattern in compiled if pattern.groups]
    if len(plain) < 2:
        return compiled
    try:
        joined = re.compile("|".join(f"(?:{pattern})" for pattern in plain))
    except re.error:
        return compiled
    return [joined, *rest]


class _Walk:
    """One pass over a value with a running (approximate) JSON byte budget."""

    def __init__(
        self, capturer: Capturer, budget: int | None = None, json_nesting: int = 0
    ) -> None:
        self.capturer = capturer
        self.budget = capturer.max_bytes if budget is None else budget
        self.truncated = False
        self.json_nesting = json_nesting

    def _spend(self, cost: int) -> bool:
        self.budget -= cost
        if self.budget < 0:
            self.truncated = True
            return False
        return True

    def clean(self, value: Any, depth: int) -> Any:
        kind = type(value)  # the common exact types first; subclasses go the long way
        if kind is str:
            return self._string(value)
        if kind is int or kind is bool or value is None:
            self.budget -= 5 if kind is not int else 20
            if self.budget < 0:
                self.truncated = True
            return value if kind is not int or -(1 << 63) < value < 1 << 63 else _big(value)
        if kind is dict and depth < _MAX_DEPTH:
            return self._clean_dict(value, depth)
        if kind is list and depth < _MAX_DEPTH:
            return self._clean_list(value, depth)
        return self._clean_other(kind, value, depth)

    def _string(self, value: str) -> str:
        capturer = self.capturer
        if capturer.may_hide_keys(value):
            value = self._json_body(value)
        text = capturer.clean_string(value)
        cost = _json_length(text)
        if not self._spend(cost):
            room = max(0, self.budget + cost - 20) // (1 if text.isascii() else 12)
            return text[:room] + "...[truncated]"
        return text

    def _json_body(self, text: str) -> str:
        """A string holding JSON, with the secrets its keys name replaced (the text unchanged
        if it is not JSON or names none)."""
        if len(text) > JSON_BODY_LIMIT or self.json_nesting >= _MAX_JSON_NESTING:
            return f"{REDACTED} (JSON of {len(text)} characters naming a secret key)"
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):
            return text
        if type(parsed) is not dict and type(parsed) is not list:
            return text
        inner = _Walk(self.capturer, JSON_BODY_LIMIT, self.json_nesting + 1)
        cleaned = inner.clean(parsed, 0)
        return json.dumps(cleaned, separators=(",", ":"), ensure_ascii=False)

    def _clean_other(self, kind: type, value: Any, depth: int) -> Any:
        # Subclasses of built-in types are read through the built-in's own methods: the
        # subclass's overrides (and any __getattr__ or __class__) never run.
        if issubclass(kind, str):
            return self._string(str.__str__(value))
        if issubclass(kind, float):
            self._spend(24)
            number = float.__float__(value)
            return number if math.isfinite(number) else str(number)
        if issubclass(kind, int):  # bool and its values are exact: handled by clean
            self._spend(20)
            integer = int.__int__(value)
            return integer if -(1 << 63) < integer < 1 << 63 else _big(integer)
        if depth >= _MAX_DEPTH:
            self.truncated = True
            return "[too deep]"
        if issubclass(kind, dict):
            return self._clean_dict(value, depth)
        if issubclass(kind, list | tuple):
            return self._clean_list(value, depth)
        if issubclass(kind, bytes):
            self._spend(24)
            return f"<{bytes.__len__(value)} bytes>"
        if issubclass(kind, bytearray):
            self._spend(24)
            return f"<{bytearray.__len__(value)} bytes>"
        self._spend(40)
        return f"<{type_name(kind)}>"

    def _key(self, key: Any) -> str:
        kind = type(key)
        if kind is str:
            name = key
        elif kind is int or kind is bool or key is None:
            name = str(key) if kind is not int or key.bit_length() < 64 else _big(key)
        elif kind is float:
            name = repr(key)
        else:
            name = f"<{type_name(kind)}>"
        return name[:200] if len(name) > 200 else name

    def _clean_dict(self, value: dict[Any, Any], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        key_info = self.capturer.key_info
        for key, item in dict.items(value):
            if self.budget <= 0:
                out["..."] = "[truncated]"
                self.truncated = True
                break
            name = self._key(key)
            secret, cost = key_info(name)
            if secret == SECRET_IN_KEY:
                name, secret = self.capturer.clean_string(name), 0
            if secret:
                out[name] = REDACTED
                cost += len(REDACTED) + 2
            self.budget -= cost
            if self.budget < 0:
                self.truncated = True
            if not secret:
                out[name] = self.clean(item, depth + 1)
        if len(out) == 2 and _pair_names_secret(out, self.capturer):
            for field in _PAIR_VALUES:
                if field in out:
                    out[field] = REDACTED
        return out

    def _clean_list(self, value: list[Any] | tuple[Any, ...], depth: int) -> list[Any]:
        out: list[Any] = []
        # The built-ins' own iterators: a subclass's __iter__ is user code.
        iterate: Any = list.__iter__ if issubclass(type(value), list) else tuple.__iter__
        items = iterate(value)
        for item in items:
            if self.budget <= 0:
                out.append("...[truncated]")
                self.truncated = True
                break
            kind = type(item)
            if (
                (kind is list or kind is tuple)
                and len(item) == 2
                and type(item[0]) is str
                and self.capturer.key_info(item[0][:200])[0]
            ):
                # A header pair, as some frameworks return headers: [["Authorization", "..."]]
                self._spend(len(item[0]) + len(REDACTED) + 8)
                out.append([self._string(item[0]), REDACTED])
                continue
            out.append(self.clean(item, depth + 1))
        return out


def _pair_names_secret(pair: dict[str, Any], capturer: Capturer) -> bool:
    """{"name": "Authorization", "value": ...} (CloudFront, ALB-style header entries)."""
    if not any(field in pair for field in _PAIR_VALUES):
        return False
    for field in _PAIR_NAMES:
        name = pair.get(field)
        if type(name) is str and capturer.key_info(name[:200])[0]:
            return True
    return False


def _big(number: int) -> str:
    """An integer beyond 64 bits as text (str() refuses more than 4,300 digits)."""
    if number.bit_length() > 4000:
        return f"<int of {number.bit_length()} bits>"
    return str(number)[:40]


def exception_message(exception: BaseException) -> str | None:
    """The exception's message as the runtime would print it, redacted, or None when only
    user code could say it. `str()` runs only where it is the built-in `__str__` over
    arguments of built-in scalar types; a user-defined `__str__` is never called (the runtime
    calls it once already): its message is its single string argument, if it has one."""
    try:
        kind = type(exception)
        args = _exception_args(exception)
        if type(args) is not tuple:
            return None
        plain = all(type(arg) in _SCALARS for arg in args)
        if plain and _builtin_str(kind) and not _odd_os_error(exception):
            text = str(exception)
        elif len(args) == 1 and type(args[0]) is str:
            text = args[0]
        else:
            return None
        return _capturer_for_messages().clean_message(text) if text else text
    except Exception:  # noqa: BLE001 - no message rather than a failure
        return None


def _builtin_str(kind: type) -> bool:
    for klass in _type_mro(kind):
        if "__str__" in _type_dict(klass):
            return _type_module(klass) == "builtins"  # type: ignore[no-any-return]
    return False


def _odd_os_error(exception: BaseException) -> bool:
    """An OSError's str() also shows its filenames, which can be any object."""
    if not issubclass(type(exception), OSError):
        return False
    names = (
        OSError.__dict__["filename"].__get__(exception),
        OSError.__dict__["filename2"].__get__(exception),
    )
    return any(type(name) not in _SCALARS for name in names)


def _capturer_for_messages() -> Capturer:
    """Exception messages are redacted even with all capture off, with the environment's
    redaction settings (read again only when they change)."""
    global _message_capturer
    environ = os.environ
    key = tuple(environ.get(variable) for variable in _REDACTION_VARIABLES)
    cached = _message_capturer
    if cached is None or cached[0] != key:
        from lambda_tracing import config

        cached = (key, Capturer(config.load()))
        _message_capturer = cached
    return cached[1]
