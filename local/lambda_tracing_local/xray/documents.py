"""Segment documents: the daemon's datagram framing, and what X-Ray accepts.

X-Ray's service, not the segment-document JSON schema, decides what is kept: the schema
says what SDKs should write, the service stores more (null line numbers, exceptions without
ids, a null request id...). A document is rejected only for what the service rejects, and
the reason names the field by its path; the parts X-Ray keeps but cannot use (an annotation
key filter expressions cannot name...) are kept as sent and reported as notes. The rules
and their sources are listed in README.md beside this module.
"""

from __future__ import annotations

import json
import re
from typing import Any

try:  # parses segments ~4x faster than json; a local-mode dependency, so optional
    import orjson
except ImportError:  # pragma: no cover - the stdlib parser gives the same documents
    orjson = None  # type: ignore[assignment]

HEADER = {"format": "json", "version": 1}
SDK_HEADER_LINE = b'{"format": "json", "version": 1}'
# "Segment documents can be up to 64 kB" (X-Ray developer guide): 64 KiB, as the X-Ray
# daemon reads it (aws-xray-daemon, cfg.go: a 64 KB socket buffer, BufferSizeKB * 1024), so
# any document an SDK fits in a datagram is kept. A UDP datagram cannot carry more than
# 65,507 bytes anyway, so the receive buffer is sized for any datagram.
MAX_DOCUMENT_BYTES = 64 * 1024
MAX_DATAGRAM_BYTES = 65_535
# Arrays and objects within arrays and objects: ~60 levels of subsegments (each level is an
# array and an object) with room inside each; far past what tracers send.
MAX_NESTING = 128
# Times a response can carry: botocore's timestamp parser, like datetime, stops at the year
# 9999 (in the reader's time zone, hence a day's margin).
LATEST_TIME = 253_402_214_400.0  # 9999-12-31T00:00:00Z
MAX_NAME_LENGTH = 200  # developer guide, segment fields: "name ... up to 200 characters"

Document = dict[str, Any]

_ID = re.compile(r"[0-9a-fA-F]{16}").fullmatch
_TRACE_ID = re.compile(r"1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24}").fullmatch
# Developer guide: names hold "Unicode letters, numbers, and whitespace, and the following
# symbols: _, ., :, /, %, &, #, =, +, \, -, @" (X-Ray answers InvalidName otherwise).
NAME_OUTSIDE = re.compile(r"[^\w\s.:/%&#=+\\\-@]")
_NAME_OUTSIDE = NAME_OUTSIDE.search
# Filter expressions name annotations as annotation.KEY: letters, digits and underscores.
_FILTERABLE_KEY = re.compile(r"[A-Za-z0-9_]+").fullmatch


class InvalidDocument(ValueError):
    """A datagram or document X-Ray would not store.

    `code` is X-Ray's ErrorCode where it has one (MissingId, InvalidName...), `path` the
    field at fault (subsegments[1].id), `message` the path and what was wrong, `kind` what
    the daemon counts: the code and the path with its indexes left out.
    """

    def __init__(self, code: str, message: str, path: str = "") -> None:
        self.code = code
        self.path = path
        self.message = f"{path}: {message}" if path else message
        self.kind = f"{code} {_generic(path)}" if path else code
        super().__init__(f"{code}: {self.message}")


def _generic(path: str) -> str:
    """subsegments[3].cause.exceptions[0].id -> subsegments[].cause.exceptions[].id"""
    return re.sub(r"\[\d+\]", "[]", path) if "[" in path else path


class Notes(list[tuple[str, str]]):
    """What documents hold that X-Ray keeps but cannot use: (kind, 'path: why') per finding.
    The daemon counts them by kind (a field path with its indexes and keys left out)."""


def _describe(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: Any) -> bool:
    """A JSON number (never a bool) that is a time a response can carry."""
    return (value.__class__ is float or value.__class__ is int) and 0 <= value <= LATEST_TIME


def _check_id(element: Document, field: str, path: str, required: bool) -> None:
    value = element.get(field)
    if value is None:
        if required:
            raise InvalidDocument(f"Missing{_CODES[field]}", "required", path + field)
        return
    if value.__class__ is not str or not _ID(value):
        raise InvalidDocument(
            f"Invalid{_CODES[field]}",
            f"{_describe(value)} is not 16 hexadecimal digits",
            path + field,
        )


_CODES = {"id": "Id", "parent_id": "ParentId"}


def _check_element(element: Document, path: str, notes: Notes) -> None:
    """The fields X-Ray requires of every segment and subsegment (PutTraceSegments, the
    developer guide's segment fields), then the notes on what it cannot use."""
    _check_id(element, "id", path, True)
    name = element.get("name")
    if name is None:
        raise InvalidDocument("MissingName", "required", path + "name")
    if name.__class__ is not str or not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidDocument(
            "InvalidName", f"{_describe(name)} is not a name of 1 to 200 characters", path + "name"
        )
    outside = _NAME_OUTSIDE(name)
    if outside is not None:
        raise InvalidDocument(
            "InvalidName",
            f"{outside.group()!r} is not allowed"
            " (letters, digits, whitespace and _ . : / % & # = + \\ - @)",
            path + "name",
        )
    start = element.get("start_time")
    if start is None:
        raise InvalidDocument("MissingStartTime", "required", path + "start_time")
    if not _number(start):
        raise InvalidDocument(
            "InvalidStartTime",
            f"{_describe(start)} is not epoch seconds from 1970 to the year 9999",
            path + "start_time",
        )
    end = element.get("end_time")
    if end is None:
        if element.get("in_progress") is not True:
            raise InvalidDocument(
                "MissingEndTime", "required unless in_progress is true", path + "end_time"
            )
    elif not _number(end):
        raise InvalidDocument(
            "InvalidEndTime",
            f"{_describe(end)} is not epoch seconds from 1970 to the year 9999",
            path + "end_time",
        )
    if "annotations" in element or "cause" in element or "http" in element:
        _note_unusable(element, path, notes)


def members(element: Document, field: str) -> dict[str, Any]:
    """The element's object field, or {} if it has none or something else there (kept as
    sent, but nothing X-Ray could read a value from)."""
    value = element.get(field)
    return value if value.__class__ is dict else _EMPTY  # type: ignore[return-value]


def text_field(element: Document, field: str) -> str | None:
    """The element's string field, or None if it has none or something else there."""
    value = element.get(field)
    return value if value.__class__ is str else None


_EMPTY: dict[str, Any] = {}


def filterable_annotation(key: str, value: Any) -> bool:
    """Whether a filter expression can name the key and compare the value."""
    return bool(_FILTERABLE_KEY(key)) and value.__class__ in (str, int, float, bool)


def _note_unusable(element: Document, path: str, notes: Notes) -> None:
    annotations = element.get("annotations")
    if annotations is not None:
        if annotations.__class__ is not dict:
            notes.append(
                (
                    "annotations",
                    f"{path}annotations: not an object, so no annotation can be filtered on",
                )
            )
        else:
            for key, value in annotations.items():
                if not _FILTERABLE_KEY(key):
                    notes.append(
                        (
                            "annotations.<key>",
                            f"{path}annotations.{key}: filter expressions cannot name this key"
                            " (letters, digits and underscores only)",
                        )
                    )
                elif value.__class__ not in (str, int, float, bool):
                    notes.append(
                        (
                            "annotations.<key> value",
                            f"{path}annotations.{key}: {_describe(value)} is not a string,"
                            " number or boolean, so filters cannot compare it",
                        )
                    )
    cause = element.get("cause")
    if cause.__class__ is dict:
        exceptions = cause.get("exceptions")  # type: ignore[union-attr]
        for number, exception in enumerate(exceptions if exceptions.__class__ is list else ()):
            stack = exception.get("stack") if exception.__class__ is dict else None
            for frame_number, frame in enumerate(stack if stack.__class__ is list else ()):
                line = frame.get("line", 0) if frame.__class__ is dict else 0
                if line.__class__ is not int:
                    notes.append(
                        (
                            "cause.exceptions[].stack[].line",
                            f"{path}cause.exceptions[{number}].stack[{frame_number}].line:"
                            f" {_describe(line)} is not a line number",
                        )
                    )
    http = element.get("http")
    response = http.get("response") if http.__class__ is dict else None
    if response.__class__ is dict:
        length = response.get("content_length", 0)  # type: ignore[union-attr]
        if length.__class__ not in (int, float):
            notes.append(
                (
                    "http.response.content_length",
                    f"{path}http.response.content_length: {_describe(length)} is not a number",
                )
            )


def validate(document: Any, notes: Notes | None = None) -> Document:
    """Return the document if X-Ray would store it, else raise InvalidDocument naming the
    field. What X-Ray keeps but cannot use is appended to `notes`, if given."""
    if document.__class__ is not dict:
        raise InvalidDocument("InvalidSegment", "a segment document must be a JSON object")
    if notes is None:
        notes = Notes()
    trace_id = document.get("trace_id")
    if trace_id is None:
        raise InvalidDocument("MissingTraceId", "required", "trace_id")
    # The epoch in a trace id is not checked: X-Ray takes W3C trace ids written as X-Ray
    # ids, whose first 8 digits are no time (PutTraceSegments, API reference).
    if trace_id.__class__ is not str or not _TRACE_ID(trace_id):
        raise InvalidDocument(
            "InvalidTraceId",
            f"{_describe(trace_id)} is not 1-<8 hexadecimal digits>-<24 hexadecimal digits>",
            "trace_id",
        )
    _check_id(document, "parent_id", "", document.get("type") == "subsegment")
    _check_element(document, "", notes)
    subsegments = document.get("subsegments")
    if subsegments is None:
        return document
    pending = [(subsegments, "subsegments")]
    while pending:
        children, path = pending.pop()
        if children.__class__ is not list:
            raise InvalidDocument("InvalidSubsegments", "not an array", path)
        for index in range(len(children)):
            child = children[index]
            where = f"{path}[{index}]"
            if child.__class__ is not dict:
                raise InvalidDocument("InvalidSubsegment", "not an object", where)
            _check_element(child, where + ".", notes)
            if child.get("subsegments") is not None:
                pending.append((child["subsegments"], where + ".subsegments"))
    return document


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# orjson reads an integer beyond 64 bits as a float, where json keeps it exact. Such a number
# is 19+ digits after ":", "," or "[" (and whitespace): with digits mapped to "0" and those
# to ":", the text then holds one of _LONG_NUMBERS (or a string does: json parses it then).
_NUMBER_SHAPES = bytes.maketrans(b"0123456789,[ \t\n\r", b"0000000000::::::")
_LONG_NUMBERS = (b":" + b"0" * 19, b":-" + b"0" * 19)


def loads_json(text: str | bytes, exact_integers: bool = True) -> Any:
    """json.loads(text) rejecting NaN and Infinity, through orjson where that gives the same
    document: anything orjson rejects (NaN, 1e400, other encodings...) goes to json, whose
    verdict and message stand. With exact_integers=False, integers beyond 64 bits may come
    back as floats (what orjson reads them as), sparing the ~3 us of looking for them."""
    if orjson is not None and isinstance(text, bytes):
        if not exact_integers:
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                pass
            return json.loads(text, parse_constant=_not_json)
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


def parse_document(text: str | bytes, notes: Notes | None = None) -> Document:
    """A validated document from its JSON text (notes as for validate)."""
    return validate(load_document(text), notes)


def load_document(text: str | bytes, exact_integers: bool = True) -> Any:
    """The JSON value of a document's text, not yet validated: raises InvalidDocument for a
    text too large, not JSON or nested too deep (exact_integers as for loads_json)."""
    if len(text) > MAX_DOCUMENT_BYTES:
        raise InvalidDocument("TooLarge", f"document of {len(text)} bytes exceeds 64 KiB")
    try:
        document = loads_json(text, exact_integers)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidDocument("InvalidJson", f"document is not JSON: {error}") from None
    except RecursionError:  # json's own limit, about 1,000 levels: past ours anyway
        raise InvalidDocument(
            "InvalidJson", f"document nests more than {MAX_NESTING} levels"
        ) from None
    # No stored document nests deeper than MAX_NESTING, whichever parser read it: json reads
    # back whatever was stored, and walking one recursively stays safe. Only a text with that
    # many brackets can be that deep, and counting them costs ~1 us.
    if _brackets(text) > MAX_NESTING and nested_deeper_than(document, MAX_NESTING):
        raise InvalidDocument("InvalidJson", f"document nests more than {MAX_NESTING} levels")
    return document


def parse_datagram(datagram: bytes, notes: Notes | None = None) -> tuple[Document, bytes]:
    """One daemon datagram (the JSON header line, a newline, then one document) ->
    the validated document and its JSON text, which is what the store keeps."""
    document, body = load_datagram(datagram)
    return validate(document, notes), body


def load_datagram(datagram: bytes) -> tuple[Any, bytes]:
    """A datagram's document as parse_datagram reads it, not yet validated, and its text."""
    body = datagram_body(datagram)
    return load_document(body), body


def datagram_body(datagram: bytes) -> bytes:
    """The document's text in a daemon datagram, once its header line is checked."""
    header, newline, body = datagram.partition(b"\n")
    if not newline:
        raise InvalidDocument("InvalidHeader", 'no header line (expected {"format":"json",...})')
    if header == SDK_HEADER_LINE:  # what the SDKs send, byte for byte: skip parsing it
        return body
    try:
        parsed_header = json.loads(header)
    except (ValueError, UnicodeDecodeError):
        raise InvalidDocument(
            "InvalidHeader", f"header line is not JSON: {header[:80]!r}"
        ) from None
    if parsed_header != HEADER:
        raise InvalidDocument(
            "InvalidHeader", f"unsupported header {parsed_header!r}, expected {HEADER}"
        )
    return body


def warm_up() -> None:
    """Run one document through the checks, so the first datagram pays no first-use costs."""
    validate(
        {
            "name": "warm-up",
            "id": "0" * 16,
            "trace_id": f"1-{'0' * 8}-{'0' * 24}",
            "start_time": 1.0,
            "end_time": 2.0,
            "annotations": {"a": 1},
        }
    )
