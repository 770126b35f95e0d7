"""Events and responses as metadata: redacted, truncated, and within a byte budget.

The copy is built in one pass that never calls user code (no repr, no iteration of anything but
plain dicts, lists and tuples), so a generator or a hostile object returned by a handler is left
untouched and reported only by its type name.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from lambda_tracing.config import Settings

REDACTED = "[REDACTED]"
_MAX_DEPTH = 32
_KEY_CACHE_LIMIT = 4096
_FLAT_MAX_ITEMS = 16


class Capturer:
    """Makes JSON-safe, redacted copies of values; one per Settings."""

    def __init__(self, settings: Settings) -> None:
        self.max_value_length = settings.max_value_length
        self.max_bytes = settings.max_metadata_bytes
        keys = [re.escape(key) for key in settings.redact_keys if key]
        self._secret_key = re.compile("|".join(keys), re.IGNORECASE) if keys else None
        self._secret_value = _one_pattern(settings.redact_patterns)
        self._keys: dict[str, tuple[bool, int]] = {}

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
        patterns = self._secret_value
        for key, item in value.items():
            if type(key) is not str or len(key) > 200:
                return None
            secret, key_cost = keys.get(key) or self.key_info(key)
            kind = type(item)
            if secret:
                item = REDACTED
                cost += key_cost + len(REDACTED) + 2
            elif kind is str:
                if len(item) > self.max_value_length:
                    return None
                for pattern in patterns:
                    if pattern.search(item) is not None:
                        return None
                cost += key_cost + _json_length(item)
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

    def key_info(self, key: str) -> tuple[bool, int]:
        """(whether `key` names a secret, bytes of `"key":` in JSON); cached, as the same keys
        come back on every invocation."""
        info = self._keys.get(key)
        if info is None:
            secret = bool(self._secret_key and self._secret_key.search(key))
            info = (secret, _json_length(key) + 2)
            if len(self._keys) < _KEY_CACHE_LIMIT:
                self._keys[key] = info
        return info

    def clean_string(self, text: str) -> str:
        limit = self.max_value_length
        # Redact before cutting (a secret cut in half would no longer match), but only scan
        # a bounded prefix of huge strings.
        head = text[: limit + 512] if len(text) > limit + 512 else text
        for pattern in self._secret_value:
            if pattern.search(head) is not None:  # a search allocates nothing when none match
                head = pattern.sub(REDACTED, head)
        if len(head) > limit:
            return head[:limit] + f"...[truncated {len(text) - limit} chars]"
        return head


def _json_length(text: str) -> int:
    """Bytes `text` takes as a JSON string (ASCII output escapes the rest, up to 12 each)."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return len(text) + 2
    return len(json.dumps(text))


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

    def __init__(self, capturer: Capturer) -> None:
        self.capturer = capturer
        self.budget = capturer.max_bytes
        self.truncated = False

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
            return value if kind is not int or -(1 << 63) < value < 1 << 63 else str(value)[:40]
        if kind is dict and depth < _MAX_DEPTH:
            return self._clean_dict(value, depth)
        return self._clean_other(value, depth)

    def _string(self, value: str) -> str:
        text = self.capturer.clean_string(value)
        cost = _json_length(text)
        if not self._spend(cost):
            room = max(0, self.budget + cost - 20) // (1 if text.isascii() else 12)
            return text[:room] + "...[truncated]"
        return text

    def _clean_other(self, value: Any, depth: int) -> Any:
        if value is None or isinstance(value, bool):
            self._spend(5)
            return value
        if isinstance(value, int):
            self._spend(20)
            return int(value) if abs(value) < 1 << 63 else str(value)[:40]
        if isinstance(value, float):
            self._spend(24)
            return float(value) if math.isfinite(value) else str(value)
        if isinstance(value, str):
            return self._string(value)
        if depth >= _MAX_DEPTH:
            self.truncated = True
            return "[too deep]"
        if isinstance(value, dict):
            return self._clean_dict(value, depth)
        if isinstance(value, list | tuple):
            return self._clean_list(value, depth)
        if isinstance(value, bytes | bytearray):
            self._spend(24)
            return f"<{len(value)} bytes>"
        self._spend(40)
        return f"<{type(value).__name__}>"

    def _clean_dict(self, value: dict[Any, Any], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        key_info = self.capturer.key_info
        for key, item in value.items():
            if self.budget <= 0:
                out["..."] = "[truncated]"
                self.truncated = True
                break
            name = key if isinstance(key, str) else str(key) if isinstance(
                key, int | float | bool | None) else f"<{type(key).__name__}>"
            if len(name) > 200:
                name = name[:200]
            secret, cost = key_info(name)
            if secret:
                out[name] = REDACTED
                cost += len(REDACTED) + 2
            self.budget -= cost
            if self.budget < 0:
                self.truncated = True
            if not secret:
                out[name] = self.clean(item, depth + 1)
        return out

    def _clean_list(self, value: list[Any] | tuple[Any, ...], depth: int) -> list[Any]:
        out: list[Any] = []
        for item in value:
            if self.budget <= 0:
                out.append("...[truncated]")
                self.truncated = True
                break
            out.append(self.clean(item, depth + 1))
        return out
