"""Segment documents and daemon datagrams against AWS's segment-document schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lambda_tracing_local.xray import documents as documents_module
from lambda_tracing_local.xray.documents import (
    HEADER,
    MAX_NESTING,
    SCHEMA_PATH,
    InvalidDocument,
    loads_json,
    parse_datagram,
    parse_document,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "xray"
HEADER_LINE = json.dumps(HEADER).encode() + b"\n"


def awsdocs_documents() -> list[str]:
    traces = json.loads((FIXTURES / "batch-get-traces.awsdocs.json").read_text())["Traces"]
    return [segment["Document"] for trace in traces for segment in trace["Segments"]]


def test_packaged_schema_is_the_official_one_unchanged() -> None:
    packaged = json.loads(SCHEMA_PATH.read_text())
    assert packaged == json.loads((FIXTURES / "segment-document-schema-v1.0.0.json").read_text())


@pytest.mark.parametrize("text", awsdocs_documents())
def test_awsdocs_segments_are_valid(text: str) -> None:
    document = parse_document(text)
    assert document == json.loads(text)
    parsed, body = parse_datagram(HEADER_LINE + text.encode())
    assert parsed == document and body == text.encode()


def test_grafana_fixture_exception_ids_break_the_schema() -> None:
    # Its exceptions have ids like "exception-1"; the schema wants 16 characters.
    trace = json.loads((FIXTURES / "trace.decoded.grafana.json").read_text())["Traces"][0]
    documents = [segment["Document"] for segment in trace["Segments"]]
    with_cause = [d for d in documents if "exception-1" in json.dumps(d)]
    assert with_cause
    with pytest.raises(InvalidDocument, match="schema"):
        parse_document(json.dumps(with_cause[0]))


STREAMED = {
    "name": "dynamodb",
    "id": "70de5b6f19ff9a0b",
    "type": "subsegment",
    "trace_id": "1-581cf771-a006649127e371903a2de979",
    "parent_id": "70de5b6f19ff9a0a",
    "start_time": 1.478293361449e9,
    "end_time": 1.478293361896e9,
    "namespace": "aws",
}


def test_streamed_subsegment_is_valid_and_needs_its_parent() -> None:
    assert parse_document(json.dumps(STREAMED))["type"] == "subsegment"
    orphan = {k: v for k, v in STREAMED.items() if k != "parent_id"}
    with pytest.raises(InvalidDocument, match="parent_id"):
        parse_document(json.dumps(orphan))


@pytest.mark.parametrize(
    ("datagram", "kind"),
    [
        (b"", "header"),
        (b"no newline at all", "header"),
        (b'{"format": "json", "version": 2}\n{}', "header"),
        (b"\xff\xfe\n{}", "header"),
        (HEADER_LINE + b"{]", "json"),
        (HEADER_LINE + b"\xff", "json"),
        (HEADER_LINE + b"[1, 2]", "schema"),
        (HEADER_LINE + b'{"name": "x"}', "schema"),
        (HEADER_LINE + json.dumps(dict(STREAMED, start_time="noon")).encode(), "schema"),
        (
            HEADER_LINE + json.dumps(dict(STREAMED, metadata={"a": {"b": "c" * 64_000}})).encode(),
            "oversize",
        ),
    ],
)
def test_bad_datagrams_raise_invalid_document_with_a_reason(datagram: bytes, kind: str) -> None:
    with pytest.raises(InvalidDocument) as caught:
        parse_datagram(datagram)
    assert caught.value.kind == kind and caught.value.message


def test_a_bad_nested_subsegment_is_rejected_with_its_place() -> None:
    document = json.loads(awsdocs_documents()[1])  # Scorekeep: subsegments within subsegments
    document["subsegments"][1]["subsegments"][0]["start_time"] = "late"
    with pytest.raises(InvalidDocument, match=r"subsegments\[1\]"):
        parse_document(json.dumps(document))
    del document["subsegments"][1]["subsegments"][0]["start_time"]
    with pytest.raises(InvalidDocument, match="start_time"):
        parse_document(json.dumps(document))


@pytest.mark.parametrize("bad_id", [["x"], {"a": 1}, 5, "short"])
def test_a_subsegment_id_at_any_depth_must_be_a_16_character_string(bad_id: object) -> None:
    document = json.loads(awsdocs_documents()[1])
    document["subsegments"][1]["subsegments"][0]["id"] = bad_id
    with pytest.raises(InvalidDocument, match=r"subsegments\[1\].*id"):
        parse_document(json.dumps(document))


def nested(levels: int) -> bytes:
    """A segment whose subsegments nest `levels` deep (2 JSON levels each), built as text:
    json.dumps itself cannot write the deepest."""
    times = '"name": "n", "start_time": 1.0, "end_time": 2.0'
    inner = f'{{"id": "{"b" * 16}", {times}}}'
    for number in range(levels - 1):
        inner = f'{{"id": "{number:016x}", {times}, "subsegments": [{inner}]}}'
    segment = f'"id": "{"a" * 16}", "trace_id": "{STREAMED["trace_id"]}", {times}'
    return f'{{{segment}, "subsegments": [{inner}]}}'.encode()


@pytest.mark.parametrize("with_orjson", [True, False], ids=["orjson", "json"])
def test_documents_nested_past_the_limit_are_rejected_by_either_parser(
    with_orjson: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever is stored, json can read back and the queries can walk; the same rule holds
    with or without orjson, and for text as for bytes."""
    if not with_orjson:
        monkeypatch.setattr(documents_module, "orjson", None)
    fine = nested(MAX_NESTING // 2 - 1)
    assert parse_document(fine)["id"] == "a" * 16
    for levels in (MAX_NESTING // 2 + 1, 600):  # 600: past json's own recursion limit
        for text in (nested(levels), nested(levels).decode()):
            with pytest.raises(InvalidDocument, match="nests more than") as caught:
                parse_document(text)
            assert caught.value.kind == "json"


def test_in_progress_segment_needs_no_end_time_but_a_finished_one_does() -> None:
    started = {k: v for k, v in STREAMED.items() if k != "end_time"}
    assert parse_document(json.dumps(dict(started, in_progress=True)))
    with pytest.raises(InvalidDocument, match="end_time"):
        parse_document(json.dumps(started))


@given(st.binary(max_size=300))
def test_any_bytes_either_parse_or_raise_invalid_document(datagram: bytes) -> None:
    try:
        document, _ = parse_datagram(datagram)
    except InvalidDocument:
        return
    assert isinstance(document, dict)


# The datagram parser takes orjson's fast path only where it yields what json.loads would:
# these are the texts where the two differ or orjson refuses, each decided as json decides.
SAME_AS_JSON = [
    b'{"n": 123456789012345678901234567890}',  # orjson: a float; json: the exact integer
    b'{"n": [1, -9223372036854775809]}',  # just below int64: likewise
    b'{"n":\n 18446744073709551616}',  # just above uint64, after whitespace
    b'{"n": 1e400}',  # orjson refuses; json: infinity
    b'\xef\xbb\xbf{"n": 1}',  # a UTF-8 byte order mark: orjson refuses, json skips it
    b'{"n": "\\ud800"}',  # a lone surrogate escape: orjson refuses
    '{"n": 1}'.encode("utf-16"),  # json detects UTF-16 and UTF-32
    b'{"n": "000000000000000000000000 0000000000000000000"}',  # digits in strings only
]


@pytest.mark.parametrize("text", SAME_AS_JSON)
def test_documents_parse_exactly_as_json_would(text: bytes) -> None:
    expected = json.loads(text)
    parsed = loads_json(text)
    assert parsed == expected
    assert [type(v) for v in parsed.values()] == [type(v) for v in expected.values()]
    if isinstance(expected["n"], list):
        assert type(parsed["n"][1]) is type(expected["n"][1])


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_not_json(constant: bytes) -> None:
    with pytest.raises(InvalidDocument) as caught:
        parse_document(b'{"name": "x", "start_time": ' + constant + b"}")
    assert caught.value.kind == "json"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_any_json_parses_to_the_same_values_and_types(value: object) -> None:
    text = json.dumps({"v": value}, ensure_ascii=False).encode()
    parsed = loads_json(text)
    assert parsed == json.loads(text)
    assert json.dumps(parsed) == json.dumps(json.loads(text))  # ints stay ints, floats floats
