"""admission.admit (the daemon's one-walk check and projection) must give exactly what
documents.validate then graph.project give: the same projection (its repr: same types),
the same rejection, the same notes, for real documents and for every field spoiled."""

from __future__ import annotations

import copy
import json
import marshal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lambda_tracing_local.xray.admission import _fast_projection, admit, admit_text
from lambda_tracing_local.xray.documents import InvalidDocument, Notes, parse_document, validate
from lambda_tracing_local.xray.graph import project
from lambda_tracing_local.xray.store import row_for

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"

BASE: dict[str, Any] = {
    "name": "orders",
    "id": "0123456789abcdef",
    "trace_id": "1-5f84c7a0-0123456789abcdef01234567",
    "start_time": 1_700_000_000.25,
    "end_time": 1_700_000_000.5,
    "origin": "AWS::Lambda::Function",
    "aws": {"account_id": "123456789012"},
    "http": {"request": {"url": "https://x.test/"}, "response": {"status": 200}},
    "annotations": {"customer": "c-1", "n": 2},
    "links": [{"trace_id": "1-5f84c7a0-0123456789abcdef01234568", "id": "1111111111111111"}],
    "subsegments": [
        {
            "name": "DynamoDB",
            "id": "1123456789abcdef",
            "namespace": "aws",
            "start_time": 1_700_000_000.3,
            "end_time": 1_700_000_000.4,
            "aws": {"operation": "GetItem", "table_name": "orders"},
            "http": {"response": {"status": 400, "content_length": 12}},
            "subsegments": [
                {
                    "name": "db@host",
                    "id": "2123456789abcdef",
                    "namespace": "remote",
                    "sql": {"url": "db"},
                    "start_time": 1_700_000_000,
                    "end_time": 1_700_000_001,
                }
            ],
        },
        {
            "name": "inventory",
            "id": "3123456789abcdef",
            "namespace": "remote",
            "start_time": 1_700_000_000.4,
            "in_progress": True,
            "http": {"request": {"url": "http://inventory.internal/x"}},
        },
    ],
}
STREAMED = {
    **{key: BASE["subsegments"][0][key] for key in ("name", "id", "start_time", "end_time")},
    "type": "subsegment",
    "trace_id": BASE["trace_id"],
    "parent_id": BASE["id"],
    "namespace": "aws",
    "subsegments": [copy.deepcopy(BASE["subsegments"][1])],
}
ODD_VALUES: list[Any] = [
    None,
    "",
    "x" * 201,
    "a?b",
    "0123456789abcdeg",
    True,
    False,
    0,
    -1,
    1.5,
    429,
    503,
    404.0,
    1e300,
    [],
    {},
    [{}],
    {"k": None},
    {"a.b": 1},
    {"ok": [1]},
    {"exceptions": [{"stack": [{"line": None}]}]},
    {"response": {"status": 429, "content_length": "12"}},
    {"response": {"status": "500"}},
    {"response": {"status": 429}},
    2**64,  # orjson reads integers past 64 bits as floats: admit_text must not show it
    -(2**63) - 1,
    {"response": {"status": 10**19, "content_length": 10**20}},
    {"big": 10**19},
    {"response": {"status": 404}},
    {"response": {"status": 503, "content_length": 1.5}},
]
FIELDS = [
    "name",
    "id",
    "trace_id",
    "parent_id",
    "type",
    "start_time",
    "end_time",
    "in_progress",
    "annotations",
    "cause",
    "http",
    "error",
    "throttle",
    "fault",
    "namespace",
    "sql",
    "aws",
    "subsegments",
    "inferred",
    "origin",
    "links",
]


def outcome(function: Any, document: Any) -> tuple[str, str, list[tuple[str, str]]]:
    notes = Notes()
    try:
        result = function(copy.deepcopy(document), notes)
    except InvalidDocument as error:
        return ("rejected", str(error), list(notes))
    return ("admitted", repr(result), list(notes))


def reference(document: Any, notes: Notes) -> Any:
    return project(validate(document, notes))


def text_admitted(document: Any, notes: Notes) -> Any:
    """admit_text on the document's JSON text, as the store's row (what it is read for)."""
    text = json.dumps(document).encode()
    document, projection = admit_text(text, notes)
    return readable(row_for(document, 0.0, text, projection))


def text_reference(document: Any, notes: Notes) -> Any:
    text = json.dumps(document).encode()
    return readable(row_for(parse_document(text, notes), 0.0, text))


def readable(row: tuple) -> tuple:
    """The row with its projection unmarshalled (marshal's bytes depend on which equal
    strings are one object)."""
    *columns, projection, shape, calls = row
    return (*columns, marshal.loads(projection), shape, calls)


def spoiled(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The document with each field, at the top and in each subsegment, set to each odd
    value or removed."""
    places = [document, *document.get("subsegments", [])]
    places += [g for s in document.get("subsegments", []) for g in s.get("subsegments", [])]
    for place_number in range(len(places)):
        for field in FIELDS:
            for value in [*ODD_VALUES, KeyError]:
                changed = copy.deepcopy(document)
                target = [changed, *changed.get("subsegments", [])]
                target += [
                    g for s in changed.get("subsegments", []) for g in s.get("subsegments", [])
                ]
                if value is KeyError:
                    target[place_number].pop(field, None)
                else:
                    target[place_number][field] = value
                yield changed


def corpus_documents() -> Iterator[Any]:
    for path in sorted(CORPUS.rglob("*.json")):
        if path.name == "expected.json":
            continue
        try:
            value = json.loads(path.read_text())
        except ValueError:
            continue
        yield value
        if isinstance(value, dict):  # e.g. put-trace-segments requests: documents inside
            for item in value.get("TraceSegmentDocuments", []):
                yield json.loads(item) if isinstance(item, str) else item


@pytest.mark.parametrize("document", [BASE, STREAMED], ids=["segment", "streamed"])
def test_spoiled_documents_get_the_same_verdict_projection_and_notes(document: dict) -> None:
    checked = 0
    admitted = 0
    for changed in spoiled(document):
        expected = outcome(reference, changed)
        assert outcome(admit, changed) == expected, json.dumps(changed, default=str)[:400]
        assert outcome(text_admitted, changed) == outcome(text_reference, changed)
        checked += 1
        admitted += expected[0] == "admitted"
    assert outcome(admit, document)[0] == "admitted"
    assert checked > 1000 and 0.2 < admitted / checked < 0.9  # both verdicts well covered


def test_real_documents_get_the_same_verdict_projection_and_notes() -> None:
    documents = list(corpus_documents())
    assert len(documents) >= 10
    for document in documents:
        assert outcome(admit, document) == outcome(reference, document)


def test_a_slip_in_the_one_walk_leaves_the_document_to_the_full_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def slip(*args: Any) -> None:
        raise TypeError("unforeseen shape")

    monkeypatch.setattr("lambda_tracing_local.xray.admission._entry", slip)
    expected = reference(copy.deepcopy(BASE), Notes())
    assert admit(copy.deepcopy(BASE)) == expected
    stored, projection = admit_text(json.dumps(BASE).encode())
    assert stored == BASE and projection == expected


def test_the_common_shapes_take_the_one_walk() -> None:
    """Otherwise the tests above would compare validate and project with themselves."""
    assert _fast_projection(copy.deepcopy(BASE)) is not None
    assert _fast_projection(copy.deepcopy(STREAMED)) is not None
    with_note = copy.deepcopy(BASE)
    with_note["annotations"]["a.b"] = 1
    assert _fast_projection(with_note) is None
