"""Segment documents: the daemon's datagram framing and validation against AWS's schema.

The schema file beside this module is an unchanged copy of AWS's segment-document schema
(draft-04); the tests check it against the copy in tests/fixtures/xray/.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).with_name("segment-document-schema-v1.0.0.json")
HEADER = {"format": "json", "version": 1}
# "Segment documents can be up to 64 kB" (X-Ray developer guide); a UDP datagram cannot
# carry more than 65,507 bytes anyway, so the receive buffer is sized for any datagram.
MAX_DOCUMENT_BYTES = 64_000
MAX_DATAGRAM_BYTES = 65_535

Document = dict[str, Any]


class InvalidDocument(ValueError):
    """A datagram or document that cannot be stored; `kind` names the reason for counting."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


def load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def _subsegment_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A streamed subsegment: the schema's subsegment definition plus the fields that tie it
    to its trace and parent (the developer guide requires trace_id, parent_id and type)."""
    definition = dict(schema["definitions"]["subsegment"])
    properties = dict(definition["properties"])
    properties["trace_id"] = schema["properties"]["trace_id"]
    properties["id"] = schema["properties"]["id"]
    properties["parent_id"] = schema["properties"]["parent_id"]
    properties["type"] = {"type": "string", "enum": ["subsegment"]}
    definition["properties"] = properties
    definition["required"] = [*definition["required"], "trace_id", "parent_id", "type"]
    definition["definitions"] = schema["definitions"]
    definition["$schema"] = schema["$schema"]
    return definition


@cache
def _validators() -> tuple[Callable[[Any], Any], Callable[[Any], Any], type[Exception]]:
    # Imported lazily: compiling the schema costs ~100 ms, which only the daemon and API pay.
    schema = load_schema()
    try:
        import fastjsonschema  # compiled to Python code: ~5x faster than jsonschema here
    except ImportError:
        from jsonschema import Draft4Validator, ValidationError

        segment, subsegment = Draft4Validator(schema), Draft4Validator(_subsegment_schema(schema))
        return segment.validate, subsegment.validate, ValidationError
    return (
        fastjsonschema.compile(schema),
        fastjsonschema.compile(_subsegment_schema(schema)),
        fastjsonschema.JsonSchemaException,
    )


def warm_up() -> None:
    """Compile the validators now rather than on the first document."""
    _validators()


def validate(document: Any) -> Document:
    """Return the document if it is a valid segment or streamed subsegment, else raise."""
    if not isinstance(document, dict):
        raise InvalidDocument("schema", "a segment document must be a JSON object")
    segment_validator, subsegment_validator, schema_error = _validators()
    is_subsegment = document.get("type") == "subsegment"
    try:
        (subsegment_validator if is_subsegment else segment_validator)(document)
    except schema_error as error:
        message = getattr(error, "message", None) or str(error)  # jsonschema: the short form
        raise InvalidDocument("schema", str(message)[:500]) from None
    if "end_time" not in document and document.get("in_progress") is not True:
        raise InvalidDocument("schema", "a document needs end_time unless in_progress is true")
    return document


def parse_document(text: str | bytes) -> Document:
    """A validated document from its JSON text."""
    if len(text) > MAX_DOCUMENT_BYTES:
        raise InvalidDocument("oversize", f"document of {len(text)} bytes exceeds 64 kB")
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidDocument("json", f"document is not JSON: {error}") from None
    return validate(document)


def parse_datagram(datagram: bytes) -> tuple[Document, bytes]:
    """One daemon datagram (the JSON header line, a newline, then one document) ->
    the validated document and its JSON text, which is what the store keeps."""
    header, newline, body = datagram.partition(b"\n")
    if not newline:
        raise InvalidDocument("header", 'no header line (expected {"format":"json",...})')
    try:
        parsed_header = json.loads(header)
    except (ValueError, UnicodeDecodeError):
        raise InvalidDocument("header", f"header line is not JSON: {header[:80]!r}") from None
    if parsed_header != HEADER:
        raise InvalidDocument("header", f"unsupported header {parsed_header!r}, expected {HEADER}")
    return parse_document(body), body
