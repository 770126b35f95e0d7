"""Segment documents and daemon datagrams against what X-Ray accepts (documents.py, README.md)."""

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
    InvalidDocument,
    Notes,
    loads_json,
    parse_datagram,
    parse_document,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "xray"
HEADER_LINE = json.dumps(HEADER).encode() + b"\n"


def awsdocs_documents() -> list[str]:
    traces = json.loads((FIXTURES / "batch-get-traces.awsdocs.json").read_text())["Traces"]
    return [segment["Document"] for trace in traces for segment in trace["Segments"]]


@pytest.mark.parametrize("text", awsdocs_documents())
def test_awsdocs_segments_are_valid(text: str) -> None:
    document = parse_document(text)
    assert document == json.loads(text)
    parsed, body = parse_datagram(HEADER_LINE + text.encode())
    assert parsed == document and body == text.encode()


def test_grafana_fixture_exception_ids_break_the_schema_but_x_ray_returned_them() -> None:
    # Its exceptions have ids like "exception-1": the schema wants 16 characters, but this is
    # a trace as X-Ray returned it, so X-Ray stored it.
    trace = json.loads((FIXTURES / "trace.decoded.grafana.json").read_text())["Traces"][0]
    documents = [segment["Document"] for segment in trace["Segments"]]
    with_cause = [d for d in documents if "exception-1" in json.dumps(d)]
    assert with_cause
    assert parse_document(json.dumps(with_cause[0])) == with_cause[0]


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
    with pytest.raises(InvalidDocument, match="^MissingParentId: parent_id: required") as caught:
        parse_document(json.dumps(orphan))
    assert caught.value.kind == "MissingParentId parent_id"


@pytest.mark.parametrize(
    ("datagram", "kind"),
    [
        (b"", "InvalidHeader"),
        (b"no newline at all", "InvalidHeader"),
        (b'{"format": "json", "version": 2}\n{}', "InvalidHeader"),
        (b"\xff\xfe\n{}", "InvalidHeader"),
        (HEADER_LINE + b"{]", "InvalidJson"),
        (HEADER_LINE + b"\xff", "InvalidJson"),
        (HEADER_LINE + b"[1, 2]", "InvalidSegment"),
        (HEADER_LINE + b'{"name": "x"}', "MissingTraceId trace_id"),
        (
            HEADER_LINE + json.dumps(dict(STREAMED, start_time="noon")).encode(),
            "InvalidStartTime start_time",
        ),
        (
            HEADER_LINE + json.dumps(dict(STREAMED, metadata={"a": {"b": "c" * 65_536}})).encode(),
            "TooLarge",
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
    with pytest.raises(InvalidDocument) as caught:
        parse_document(json.dumps(document))
    assert caught.value.message == (
        "subsegments[1].subsegments[0].start_time: 'late' is not epoch seconds"
        " from 1970 to the year 9999"
    )
    assert caught.value.kind == "InvalidStartTime subsegments[].subsegments[].start_time"
    del document["subsegments"][1]["subsegments"][0]["start_time"]
    with pytest.raises(InvalidDocument, match=r"subsegments\[1\]\.subsegments\[0\]\.start_time"):
        parse_document(json.dumps(document))


@pytest.mark.parametrize("bad_id", [["x"], {"a": 1}, 5, "short"])
def test_a_subsegment_id_at_any_depth_must_be_a_16_character_string(bad_id: object) -> None:
    document = json.loads(awsdocs_documents()[1])
    document["subsegments"][1]["subsegments"][0]["id"] = bad_id
    with pytest.raises(InvalidDocument, match=r"subsegments\[1\]\.subsegments\[0\]\.id: "):
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
            assert caught.value.kind == "InvalidJson"


def test_in_progress_segment_needs_no_end_time_but_a_finished_one_does() -> None:
    started = {k: v for k, v in STREAMED.items() if k != "end_time"}
    assert parse_document(json.dumps(dict(started, in_progress=True)))
    with pytest.raises(InvalidDocument, match="^MissingEndTime: end_time: required"):
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
    assert caught.value.kind == "InvalidJson"


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


# -- what X-Ray accepts beyond the schema, and what it rejects -------------------------------

SEGMENT = {
    "name": "orders",
    "id": "70de5b6f19ff9a0a",
    "trace_id": "1-581cf771-a006649127e371903a2de979",
    "start_time": 1.478293361271e9,
    "end_time": 1.478293361449e9,
    "subsegments": [
        {k: v for k, v in STREAMED.items() if k not in ("type", "trace_id", "parent_id")}
    ],
}


def with_changes(document: dict, path: str, value: object) -> dict:
    """A deep copy of the document with the field at `path` (dotted, [n] for items) set,
    or deleted when value is DELETE."""
    copy = json.loads(json.dumps(document))
    *parents, last = path.replace("[", ".").replace("]", "").split(".")
    target = copy
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    key = int(last) if last.isdigit() else last
    if value is DELETE:
        del target[key]
    else:
        target[key] = value
    return copy


DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "code", "message"),
    [
        ("id", DELETE, "MissingId", "id: required"),
        ("id", "70DE5B6F19FF9A0", "InvalidId", "id: '70DE5B6F19FF9A0' is not 16 hexadecimal"),
        ("name", DELETE, "MissingName", "name: required"),
        ("name", "", "InvalidName", "name: '' is not a name of 1 to 200"),
        ("name", "x" * 201, "InvalidName", "name: 'xxx"),
        ("name", "GET /orders?id=1", "InvalidName", "name: '?' is not allowed"),
        ("trace_id", DELETE, "MissingTraceId", "trace_id: required"),
        ("trace_id", "1-581cf771-a0066", "InvalidTraceId", "trace_id: '1-581cf771-a0066' is not"),
        ("trace_id", 5, "InvalidTraceId", "trace_id: 5 is not"),
        ("parent_id", "nope", "InvalidParentId", "parent_id: 'nope' is not 16"),
        ("start_time", DELETE, "MissingStartTime", "start_time: required"),
        ("start_time", True, "InvalidStartTime", "start_time: true is not epoch seconds"),
        ("start_time", -1, "InvalidStartTime", "start_time: -1 is not epoch seconds"),
        ("start_time", 1e300, "InvalidStartTime", "start_time: 1e+300 is not epoch seconds"),
        ("end_time", DELETE, "MissingEndTime", "end_time: required unless in_progress is true"),
        ("end_time", "later", "InvalidEndTime", "end_time: 'later' is not epoch seconds"),
        ("subsegments", {}, "InvalidSubsegments", "subsegments: not an array"),
        ("subsegments[0]", "x", "InvalidSubsegment", "subsegments[0]: not an object"),
        ("subsegments[0].id", DELETE, "MissingId", "subsegments[0].id: required"),
        ("subsegments[0].name", "a|b", "InvalidName", "subsegments[0].name: '|' is not allowed"),
        ("subsegments[0].end_time", DELETE, "MissingEndTime", "subsegments[0].end_time: required"),
    ],
)
def test_every_rejection_names_x_rays_error_code_and_the_field_path(
    path: str, value: object, code: str, message: str
) -> None:
    with pytest.raises(InvalidDocument) as caught:
        parse_document(json.dumps(with_changes(SEGMENT, path, value)))
    assert caught.value.code == code
    assert caught.value.message.startswith(message)
    assert caught.value.path == path
    assert caught.value.kind == f"{code} {path.replace('[0]', '[]')}"


# What SDKs write by default and X-Ray stores, though the schema forbids it.
@pytest.mark.parametrize(
    ("path", "value"),
    [
        # aws-xray-sdk-node: an async error's frames from node:internal have "line": null,
        # and its exceptions no id (aws-xray-sdk-node#473)
        (
            "subsegments[0].cause",
            {
                "working_directory": "/app",
                "exceptions": [
                    {
                        "message": "boom",
                        "type": "Error",
                        "stack": [
                            {"path": "app.js", "line": 12, "label": "handler"},
                            {"path": "node:internal/process/task_queues", "line": None},
                        ],
                    }
                ],
            },
        ),
        # aws-xray-sdk (Python) with botocore: a response without a request id
        ("subsegments[0].aws", {"operation": "GetItem", "request_id": None, "retries": 0}),
        # the Go SDK (OpenTelemetry collector test data): annotation keys with dots
        ("annotations", {"http.method": "GET", "ok_key": 1}),
        ("http", {"response": {"status": 200, "content_length": "12"}}),
        ("subsegments[0].namespace", "local"),
        ("origin", 7),  # kept as sent; the graph names the node's type "service"
        ("user", {"id": 1}),
        # trace ids whose first 8 digits are no recent time: W3C ids written as X-Ray ids
        ("trace_id", "1-00000000-a006649127e371903a2de979"),
        ("trace_id", "1-ffffffff-a006649127e371903a2de979"),
        ("start_time", 0),
        ("end_time", 253_402_000_000.0),  # the year 9999
    ],
)
def test_what_x_ray_stores_beyond_the_schema_is_kept_as_sent(path: str, value: object) -> None:
    document = with_changes(SEGMENT, path, value)
    assert parse_document(json.dumps(document)) == document


def test_parts_x_ray_cannot_use_are_noted_with_their_path() -> None:
    document = with_changes(SEGMENT, "annotations", {"http.method": "GET", "fine": 1, "obj": {}})
    document = with_changes(
        document,
        "subsegments[0].cause",
        {"exceptions": [{"message": "x", "stack": [{"line": 3}, {"line": None}]}]},
    )
    document = with_changes(document, "http", {"response": {"content_length": "12"}})
    notes = Notes()
    assert parse_document(json.dumps(document), notes) == document
    assert sorted(notes) == [
        (
            "annotations.<key>",
            "annotations.http.method: filter expressions cannot name this key"
            " (letters, digits and underscores only)",
        ),
        (
            "annotations.<key> value",
            "annotations.obj: {} is not a string, number or boolean, so filters cannot compare it",
        ),
        (
            "cause.exceptions[].stack[].line",
            "subsegments[0].cause.exceptions[0].stack[1].line: null is not a line number",
        ),
        ("http.response.content_length", "http.response.content_length: '12' is not a number"),
    ]


def test_an_exception_without_an_id_and_with_a_null_line_is_stored_and_drawn(
    tmp_path: Path,
) -> None:
    """aws-xray-sdk-node#473: exceptions without an id; its node:internal frames: line null."""
    from lambda_tracing_local.xray.operations import Operations
    from lambda_tracing_local.xray.store import TraceStore
    from service_map.pictures import flame_svg

    cause = {
        "working_directory": "/app",
        "exceptions": [
            {
                "message": "async boom",
                "type": "Error",
                "stack": [
                    {"path": "/app/handler.js", "line": 12, "label": "Timeout._onTimeout"},
                    {"path": "node", "line": None, "label": "listOnTimeout"},
                ],
            }
        ],
    }
    document = with_changes(with_changes(SEGMENT, "subsegments[0].cause", cause), "fault", True)
    operations = Operations(TraceStore(tmp_path / "store.sqlite3"))
    answer = operations.put_trace_segments({"TraceSegmentDocuments": [json.dumps(document)]})
    assert answer == {"UnprocessedTraceSegments": []}
    (trace,) = operations.batch_get_traces({"TraceIds": [SEGMENT["trace_id"]]})["Traces"]
    assert json.loads(trace["Segments"][0]["Document"]) == document
    assert "exception Error: async boom" in flame_svg(trace)


def test_a_document_up_to_64_kib_is_kept_as_the_x_ray_daemon_keeps_it() -> None:
    """The daemon reads datagrams into a 64 KiB buffer: an SDK's segment of 64,000-65,536
    bytes reaches X-Ray, so it is kept here too; one byte more is TooLarge."""
    bare = json.dumps(dict(STREAMED, metadata={"a": {"b": ""}}))
    at_limit = json.dumps(dict(STREAMED, metadata={"a": {"b": "c" * (65_536 - len(bare))}}))
    assert len(at_limit) == 65_536
    assert parse_document(at_limit)["id"] == STREAMED["id"]
    with pytest.raises(InvalidDocument) as caught:
        parse_document(at_limit.replace('"c', '"cc', 1))
    assert caught.value.code == "TooLarge"
