"""lambda_tracing.documents: every document fits X-Ray's UDP limit, degraded visibly."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from lambda_tracing.documents import DOCUMENT_LIMIT, fit, safe_name

TRACE = "1-5759e988-bd862e3fe1be46a994272793"


def node(name: str, ident: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "id": ident,
        "trace_id": TRACE,
        "parent_id": "53995c3f42cd8ad8",
        "type": "subsegment",
        "start_time": 1.0,
        "end_time": 2.0,
        **extra,
    }


def test_small_documents_are_sent_unchanged() -> None:
    document = node("## handler", "a" * 16, metadata={"svc": {"response": {"ok": 1}}})
    assert [json.loads(text) for text in fit(document)] == [document]


def test_oversize_metadata_is_replaced_by_a_marker() -> None:
    document = node(
        "## handler",
        "a" * 16,
        metadata={"svc": {"response": "x" * 100_000}},
        annotations={"ColdStart": True},
    )
    (text,) = fit(document)
    assert len(text) <= DOCUMENT_LIMIT
    sent = json.loads(text)
    assert sent["annotations"] == {"ColdStart": True}
    marker = sent["metadata"]["lambda_tracing"]
    assert marker["truncated"] is True and marker["original_bytes"] > 100_000


def test_huge_exception_messages_are_cut() -> None:
    cause = {
        "working_directory": "/",
        "exceptions": [
            {"id": "b" * 16, "type": "ValueError", "message": "m" * 200_000, "stack": []}
        ],
    }
    (text,) = fit(node("## handler", "a" * 16, cause=cause, fault=True))
    sent = json.loads(text)
    assert sent["fault"] is True
    assert sent["cause"]["exceptions"][0]["type"] == "ValueError"
    assert "[truncated" in sent["cause"]["exceptions"][0]["message"]


def test_many_children_are_split_into_independent_documents(segment_validator: Any) -> None:
    children = [
        node(f"call {i}", f"{i:016x}", annotations={"n": i, "pad": "p" * 900}) for i in range(200)
    ]
    document = node("## handler", "f" * 16, subsegments=children)
    texts = fit(document)
    assert len(texts) > 1
    sent = [json.loads(text) for text in texts]
    assert all(len(text) <= DOCUMENT_LIMIT for text in texts)
    for doc in sent:
        segment_validator.validate(doc)
    ids = {child["id"] for doc in sent for child in [doc, *doc.get("subsegments", [])]}
    assert {f"{i:016x}" for i in range(200)} <= ids
    split = [doc for doc in sent if doc["name"].startswith("call")]
    assert all(doc["parent_id"] == "f" * 16 and doc["trace_id"] == TRACE for doc in split)


def test_a_node_too_big_on_its_own_keeps_identity_and_timing() -> None:
    annotations = {f"k{i}": "v" * 900 for i in range(200)}
    (text,) = fit(node("## handler", "a" * 16, annotations=annotations, error=True))
    sent = json.loads(text)
    assert sent["id"] == "a" * 16 and sent["error"] is True and sent["end_time"] == 2.0
    assert sent["metadata"]["lambda_tracing"]["truncated"] is True


def test_safe_name_keeps_xray_characters_only() -> None:
    assert safe_name("## app.handler") == "## app.handler"
    assert safe_name("<lambda>") == "_lambda_"
    assert len(safe_name("x" * 500)) == 200
    assert safe_name("") == "unnamed"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 40_000), st.integers(0, 30_000)), max_size=12),
    st.integers(0, 90_000),
)
def test_any_tree_fits(children_sizes: list[tuple[int, int]], own: int) -> None:
    children = [
        node(
            f"c{i}",
            f"{i:016x}",
            metadata={"d": {"v": "x" * meta}},
            annotations={"a": "y" * min(ann, 900)},
        )
        for i, (meta, ann) in enumerate(children_sizes)
    ]
    document = node("root", "e" * 16, metadata={"d": {"v": "z" * own}}, subsegments=children)
    texts = fit(document)
    assert all(len(text) <= DOCUMENT_LIMIT for text in texts)
    sent = [json.loads(text) for text in texts]
    seen = {doc["id"] for doc in sent} | {
        c["id"] for doc in sent for c in doc.get("subsegments", [])
    }
    assert seen == {"e" * 16} | {f"{i:016x}" for i in range(len(children))}


def test_metadata_that_is_not_json_is_marked_and_the_rest_sent() -> None:
    """A reference cycle in the user's metadata (RecursionError in the encoder) used to lose the
    whole document; now that node's metadata becomes a marker and everything else is sent."""
    cyclic: dict[str, Any] = {"name": "loop"}
    cyclic["self"] = cyclic

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no")

    child = node("child", "c" * 16, metadata={"user": {"thing": Unprintable()}})
    document = node(
        "## handler",
        "a" * 16,
        annotations={"ColdStart": False},
        metadata={"user": {"state": cyclic}},
        subsegments=[child, node("fine", "d" * 16, metadata={"user": {"n": 1}})],
    )
    (text,) = fit(document)
    sent = json.loads(text)
    assert sent["annotations"] == {"ColdStart": False}
    marker = sent["metadata"]["lambda_tracing"]
    assert marker["truncated"] is True and "RecursionError" in marker["reason"]
    first, second = sent["subsegments"]
    assert "RuntimeError" in first["metadata"]["lambda_tracing"]["reason"]
    assert second["metadata"] == {"user": {"n": 1}}
