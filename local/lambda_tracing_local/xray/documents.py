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

try:  # parses segments ~4x faster than json; a local-mode dependency, so optional
    import orjson
except ImportError:  # pragma: no cover - the stdlib parser gives the same documents
    orjson = None  # type: ignore[assignment]

SCHEMA_PATH = Path(__file__).with_name("segment-document-schema-v1.0.0.json")
HEADER = {"format": "json", "version": 1}
SDK_HEADER_LINE = b'{"format": "json", "version": 1}'
# "Segment documents can be up to 64 kB" (X-Ray developer guide); a UDP datagram cannot
# carry more than 65,507 bytes anyway, so the receive buffer is sized for any datagram.
MAX_DOCUMENT_BYTES = 64_000
MAX_DATAGRAM_BYTES = 65_535
# Arrays and objects within arrays and objects: ~60 levels of subsegments (each level is an
# array and an object) with room inside each; far past what tracers send.
MAX_NESTING = 128

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


def _with_typed_subsegment_ids(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema requires a subsegment's id but gives it no type (the developer guide: 16
    hexadecimal digits, as a segment's). Ids are what a trace is assembled by, so an object
    or a number there would break every query over its trace: held to the schema's rule for
    a segment's id, a string of 16 characters."""
    definitions = dict(schema["definitions"])
    subsegment = dict(definitions["subsegment"])
    subsegment["properties"] = {**subsegment["properties"], "id": schema["properties"]["id"]}
    definitions["subsegment"] = subsegment
    return {**schema, "definitions": definitions}


def _split_schemas(schema: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """The same rules in three parts: a segment whose subsegments are checked one by one
    with the subsegment definition (fastjsonschema's nested calls format an error-path
    string for every item, which costs ~30% of the validation), and a streamed subsegment."""
    schema = _with_typed_subsegment_ids(schema)
    segment = dict(schema)
    segment["properties"] = {**schema["properties"], "subsegments": {"type": "array"}}
    item = {**schema["definitions"]["subsegment"], "definitions": schema["definitions"]}
    item["$schema"] = schema["$schema"]
    return segment, item, _subsegment_schema(schema)


Validator = Callable[[Any], Any]


@cache
def _validators() -> tuple[Validator, Validator, Validator, type[Exception]]:
    # Imported lazily: compiling the schema costs ~100 ms, which only the daemon and API pay.
    parts = _split_schemas(load_schema())
    try:
        import fastjsonschema  # compiled to Python code: ~5x faster than jsonschema here
    except ImportError:
        from jsonschema import Draft4Validator, ValidationError

        segment, item, streamed = (Draft4Validator(part).validate for part in parts)
        return segment, item, streamed, ValidationError
    segment, item, streamed = (fastjsonschema.compile(part) for part in parts)
    return segment, item, streamed, fastjsonschema.JsonSchemaException


def warm_up() -> None:
    """Compile the validators now rather than on the first document."""
    _validators()


def validate(document: Any) -> Document:
    """Return the document if it is a valid segment or streamed subsegment, else raise."""
    if not isinstance(document, dict):
        raise InvalidDocument("schema", "a segment document must be a JSON object")
    segment_validator, item_validator, streamed_validator, schema_error = _validators()
    index = -1  # the subsegment being checked; its path is only formatted for an error
    try:
        if document.get("type") == "subsegment":
            streamed_validator(document)
        else:
            segment_validator(document)
            subsegments = document.get("subsegments")
            if subsegments:
                for index in range(len(subsegments)):
                    item_validator(subsegments[index])
    except schema_error as error:
        message = getattr(error, "message", None) or str(error)  # jsonschema: the short form
        where = "document" if index < 0 else f"subsegments[{index}]"
        raise InvalidDocument("schema", f"{where}: {message}"[:500]) from None
    if "end_time" not in document and document.get("in_progress") is not True:
        raise InvalidDocument("schema", "a document needs end_time unless in_progress is true")
    return document


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# orjson reads an integer beyond 64 bits as a float, where json keeps it exact. Such a number
# is 19+ digits after ":", "," or "[" (and whitespace): with digits mapped to "0" and those
# to ":", the text then holds one of _LONG_NUMBERS (or a string does: json parses it then).
_NUMBER_SHAPES = bytes.maketrans(b"0123456789,[ \t\n\r", b"0000000000::::::")
_LONG_NUMBERS = (b":" + b"0" * 19, b":-" + b"0" * 19)


def loads_json(text: str | bytes) -> Any:
    """json.loads(text) rejecting NaN and Infinity, through orjson where that gives the same
    document: anything orjson rejects (NaN, 1e400, other encodings...) goes to json, whose
    verdict and message stand."""
    if orjson is not None and isinstance(text, bytes):
        shapes = text.translate(_NUMBER_SHAPES)
        if _LONG_NUMBERS[0] not in shapes and _LONG_NUMBERS[1] not in shapes:
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                pass
    return json.loads(text, parse_constant=_not_json)


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest in `value` more than `limit` levels (walked with a
    stack, not recursion, so any depth orjson accepted can be measured)."""
    pending = [(value, 1)] if type(value) in (dict, list) else []
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            return True
        children = item.values() if type(item) is dict else item
        pending.extend((child, depth + 1) for child in children if type(child) in (dict, list))
    return False


def _brackets(text: str | bytes) -> int:
    if isinstance(text, bytes):
        return text.count(b"[") + text.count(b"{")
    return text.count("[") + text.count("{")


def parse_document(text: str | bytes) -> Document:
    """A validated document from its JSON text."""
    if len(text) > MAX_DOCUMENT_BYTES:
        raise InvalidDocument("oversize", f"document of {len(text)} bytes exceeds 64 kB")
    try:
        document = loads_json(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidDocument("json", f"document is not JSON: {error}") from None
    except RecursionError:  # json's own limit, about 1,000 levels: past ours anyway
        raise InvalidDocument("json", f"document nests more than {MAX_NESTING} levels") from None
    # No stored document nests deeper than MAX_NESTING, whichever parser read it: json reads
    # back whatever was stored, and walking one recursively stays safe. Only a text with that
    # many brackets can be that deep, and counting them costs ~1 us.
    if _brackets(text) > MAX_NESTING and nested_deeper_than(document, MAX_NESTING):
        raise InvalidDocument("json", f"document nests more than {MAX_NESTING} levels")
    return validate(document)


def parse_datagram(datagram: bytes) -> tuple[Document, bytes]:
    """One daemon datagram (the JSON header line, a newline, then one document) ->
    the validated document and its JSON text, which is what the store keeps."""
    header, newline, body = datagram.partition(b"\n")
    if not newline:
        raise InvalidDocument("header", 'no header line (expected {"format":"json",...})')
    if header == SDK_HEADER_LINE:  # what the SDKs send, byte for byte: skip parsing it
        return parse_document(body), body
    try:
        parsed_header = json.loads(header)
    except (ValueError, UnicodeDecodeError):
        raise InvalidDocument("header", f"header line is not JSON: {header[:80]!r}") from None
    if parsed_header != HEADER:
        raise InvalidDocument("header", f"unsupported header {parsed_header!r}, expected {HEADER}")
    return parse_document(body), body
