"""Real segment documents from other projects (tests/fixtures/corpus, origins in ORIGIN.md):
each is accepted or rejected as expected.json says, and the accepted ones are drawn."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from lambda_tracing_local.xray.documents import (
    LATEST_TIME,
    InvalidDocument,
    Notes,
    parse_datagram,
    parse_document,
)
from lambda_tracing_local.xray.operations import Operations
from lambda_tracing_local.xray.store import TraceStore
from service_map.pictures import flame_svg

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CORPUS = FIXTURES / "corpus"
EXPECTED: dict[str, dict] = {
    name: entry
    for name, entry in json.loads((CORPUS / "expected.json").read_text()).items()
    if name != "//"
}
# The guide's minimal segment, which the fragments it shows as subsegments are checked in.
HOST = json.loads((CORPUS / "awsdocs" / "minimal-complete-segment.json").read_text())


def verdict(text: str, kind: str, notes: Notes | None = None) -> str:
    """'accept', or the rejection as '<ErrorCode> <field path>'."""
    try:
        if kind == "datagram":
            parse_datagram(text.rstrip("\n").encode(), notes)
        elif kind == "subsegment":
            fragment = json.loads(text)  # a fragment not JSON is rejected as its segment
            parse_document(json.dumps(dict(HOST, subsegments=[fragment])), notes)
        else:
            parse_document(text.encode(), notes)
    except InvalidDocument as error:
        return f"{error.code} {error.path}".strip()
    except json.JSONDecodeError:
        return "InvalidJson"
    return "accept"


def fixed(name: str) -> str:
    text = (CORPUS / name).read_text()
    for old, new in EXPECTED[name].get("typo_fixes", []):
        assert old in text, f"{name}: correction {old!r} no longer applies"
        text = text.replace(old, new)
    return text


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_document_gets_the_expected_verdict_with_its_reason(name: str) -> None:
    entry = EXPECTED[name]
    assert verdict((CORPUS / name).read_text(), entry["as"]) == entry["verbatim"]
    if "typo_fixes" in entry:
        assert verdict(fixed(name), entry["as"]) == entry["fixed"]


def test_the_corpus_covers_every_file_and_is_40_documents_from_4_projects() -> None:
    files = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.suffix in (".json", ".txt")}
    assert files - {"expected.json"} == set(EXPECTED)
    projects = {name.split("/")[0] for name in EXPECTED} | {"grafana"}
    assert len(EXPECTED) + len(list(fixture_documents())) >= 40 and len(projects) >= 4


def fixture_documents() -> Iterator[str]:
    """The segment documents in two fixtures of tests/fixtures/xray (see its ORIGIN.md):
    traces as X-Ray returned them, in the developer guide and in grafana/x-ray-datasource."""
    for file in ("batch-get-traces.awsdocs.json", "trace.decoded.grafana.json"):
        for trace in json.loads((FIXTURES / "xray" / file).read_text())["Traces"]:
            for segment in trace["Segments"]:
                document = segment["Document"]
                yield document if isinstance(document, str) else json.dumps(document)


def accepted_documents() -> Iterator[str]:
    """Every document the corpus expects to be stored, as PutTraceSegments text (each
    fragment in a segment of its own: same trace, an id of its own)."""
    for number, (name, entry) in enumerate(EXPECTED.items()):
        text = fixed(name) if "typo_fixes" in entry else (CORPUS / name).read_text()
        if entry.get("fixed", entry["verbatim"]) != "accept":
            continue
        if entry["as"] == "datagram":
            text = text.split("\n", 1)[1]
        elif entry["as"] == "subsegment":
            host = dict(HOST, id=f"{number:016x}", subsegments=[json.loads(text)])
            text = json.dumps(host)
        yield text
    yield from fixture_documents()


def test_what_their_sources_treat_as_valid_is_stored_and_drawn(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "corpus.sqlite3")
    operations = Operations(store)
    texts = list(accepted_documents())
    notes = Notes()
    for text in texts:
        verdict(text, "document", notes)
    assert sorted({kind for kind, _ in notes}) == [
        "annotations.<key>",  # ddbSample: the Go SDK's dotted annotation key
        "http.response.content_length",  # a content length sent as a string
    ]
    response = operations.put_trace_segments({"TraceSegmentDocuments": texts})
    assert response == {"UnprocessedTraceSegments": []}

    window = {"StartTime": 0.0, "EndTime": LATEST_TIME}
    services = operations.get_service_graph(window)["Services"]
    nodes = {(s["Name"], s["Type"]) for s in services}
    database = "ebdb@aawijb5u25wdoy.cpamxznpdoq8.us-west-2.rds.amazonaws.com"
    assert {
        (database, "Database::SQL"),
        ("xray_sample_table", "AWS::DynamoDB::Table"),
        ("does_not_exist", "AWS::DynamoDB::Table"),
        ("DDB", "service"),
        ("names.example.com", "remote"),
        ("scorekeep-user", "AWS::DynamoDB::Table"),
    } <= nodes

    trace_ids = {json.loads(text)["trace_id"] for text in texts}
    summaries = []
    token = None
    while True:
        page = operations.get_trace_summaries({**window, **({"NextToken": token} if token else {})})
        summaries.extend(page["TraceSummaries"])
        token = page.get("NextToken")
        if token is None:
            break
    by_id = {summary["Id"]: summary for summary in summaries}
    ddb = by_id["1-5f29ab21-d4ebf299219a65bd5c31d6da"]
    assert (ddb["HasFault"], ddb["HasError"], ddb["HasThrottle"]) == (True, True, False)
    assert ddb["Annotations"] == {}  # its only annotation's key cannot be filtered on

    traces = operations.batch_get_traces({"TraceIds": sorted(trace_ids)})["Traces"]
    for trace in traces:
        assert "<svg" in flame_svg(trace)
