"""The part of X-Ray's filter-expression language local traces need.

Supported: `ok`, `error`, `fault`, `throttle`, `partial`; `service("name")`;
`annotation.Key` (true when the annotation is true) and `annotation.Key OP value`;
`responsetime`, `duration`, `http.status`, `http.url`, `http.method`, `user` compared with
=, !=, <, <=, >, >=, CONTAINS, BEGINSWITH, ENDSWITH; `AND`/`&&`, `OR`/`||`, `!`/`NOT`
and parentheses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<op>!=|<=|>=|=|<|>|&&|\|\||!|\(|\)|,)
    | (?P<word>[A-Za-z_][A-Za-z0-9_.:-]*)
    )""",
    re.VERBOSE,
)
COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "CONTAINS": lambda a, b: str(b) in str(a),
    "BEGINSWITH": lambda a, b: str(a).startswith(str(b)),
    "ENDSWITH": lambda a, b: str(a).endswith(str(b)),
}
FLAGS = {"ok", "error", "fault", "throttle", "partial"}
NUMERIC_FIELDS = {"responsetime", "duration", "http.status"}
MAX_NESTING = 100


class FilterError(ValueError):
    pass


@dataclass
class TraceFacts:
    """What a filter can ask about one trace."""

    flags: set[str]
    services: set[str]
    annotations: dict[str, list[Any]]
    fields: dict[str, Any]


Predicate = Callable[[TraceFacts], bool]


def tokenize(expression: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    position = 0
    expression = expression.rstrip()
    while position < len(expression):
        match = TOKEN.match(expression, position)
        if match is None or match.end() == position:
            raise FilterError(f"unexpected character at {position}: {expression[position:][:20]!r}")
        position = match.end()
        kind = match.lastgroup
        assert kind is not None
        text = match.group(kind)
        if kind == "string":
            try:
                tokens.append(("value", json.loads(text)))
            except json.JSONDecodeError as error:  # e.g. "\x": an escape JSON does not know
                raise FilterError(f"bad string {text[:40]}: {error.msg}") from None
        elif kind == "number":
            tokens.append(("value", float(text)))
        elif kind == "word" and text.upper() in {"AND", "OR", "NOT", *COMPARISONS}:
            tokens.append(("op", text.upper()))
        elif kind == "word" and text in ("true", "false"):
            tokens.append(("value", text == "true"))
        else:
            tokens.append((kind, text))
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]]) -> None:
        self.tokens = tokens
        self.position = 0
        self.depth = 0  # parentheses and negations open around the current token

    def nest(self) -> None:
        # The parser and the predicate it builds recurse once per level: bounded, so an
        # expression such as "((((...))))" gets an answer, not a RecursionError.
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise FilterError(f"expression nests more than {MAX_NESTING} levels")

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, kind: str, text: Any = None) -> Any:
        token = self.peek()
        if token is None or token[0] != kind or (text is not None and token[1] != text):
            wanted = text or kind
            raise FilterError(f"expected {wanted!r} but found {token[1] if token else 'the end'!r}")
        self.position += 1
        return token[1]

    def accept(self, *ops: str) -> str | None:
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] in ops:
            self.position += 1
            return str(token[1])
        return None

    def expression(self) -> Predicate:
        terms = [self.conjunction()]
        while self.accept("OR", "||"):
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else lambda facts: any(t(facts) for t in terms)

    def conjunction(self) -> Predicate:
        terms = [self.negation()]
        while self.accept("AND", "&&"):
            terms.append(self.negation())
        return terms[0] if len(terms) == 1 else lambda facts: all(t(facts) for t in terms)

    def negation(self) -> Predicate:
        if self.accept("!", "NOT"):
            self.nest()
            inner = self.negation()
            self.depth -= 1
            return lambda facts: not inner(facts)
        return self.primary()

    def primary(self) -> Predicate:
        if self.accept("("):
            self.nest()
            inner = self.expression()
            self.take("op", ")")
            self.depth -= 1
            return inner
        word = self.take("word")
        if word in FLAGS:
            return lambda facts: word in facts.flags
        if word == "service":
            self.take("op", "(")
            name = self.take("value")
            if not isinstance(name, str):
                raise FilterError(f'service takes a quoted name, as service("orders"): {name!r}')
            self.take("op", ")")
            return lambda facts: name in facts.services
        if word.startswith("annotation."):
            key = word.removeprefix("annotation.")
            comparison = self.comparison()
            if comparison is None:
                return lambda facts: True in facts.annotations.get(key, ())
            compare, expected = comparison
            return lambda facts: any(
                _safe(compare, value, expected) for value in facts.annotations.get(key, ())
            )
        if word in ("responsetime", "duration", "http.status", "http.url", "http.method", "user"):
            comparison = self.comparison()
            if comparison is None:
                raise FilterError(f"{word} needs a comparison, such as {word} > 1")
            compare, expected = comparison
            if word in NUMERIC_FIELDS and type(expected) is not float:
                raise FilterError(f"{word} compares with a number: {expected!r}")
            return lambda facts: (
                word in facts.fields and _safe(compare, facts.fields[word], expected)
            )
        raise FilterError(f"unknown keyword {word!r}")

    def comparison(self) -> tuple[Callable[[Any, Any], bool], Any] | None:
        operator = self.accept(*COMPARISONS)
        if operator is None:
            return None
        return COMPARISONS[operator], self.take("value")


def _safe(compare: Callable[[Any, Any], bool], actual: Any, expected: Any) -> bool:
    try:
        return compare(actual, expected)
    except TypeError:  # e.g. a string annotation compared with a number: no match
        return False


def compile_filter(expression: str | None) -> Predicate:
    """A predicate over TraceFacts; raises FilterError with the reason for a bad expression."""
    if expression is None or not expression.strip():
        return lambda facts: True
    parser = _Parser(tokenize(expression))
    predicate = parser.expression()
    if parser.peek() is not None:
        raise FilterError(f"unexpected {parser.peek()[1]!r} after a complete expression")  # type: ignore[index]
    return predicate
