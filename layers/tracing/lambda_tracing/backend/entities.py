"""The entities of one invocation: Lambda's facade segment and the spans (subsegments) under it.

`Facade` is what Lambda's trace header says: the function's segment, which Lambda itself sends,
so it is never serialised here; it only carries the ids and the sampling decision. `Span` is a
subclass of aws-xray-sdk's `Entity` (its put_annotation, put_metadata, put_http_meta, set_aws,
add_exception and flags are the SDK's own) with the attributes and document of the SDK's
Subsegment, made more cheaply: one constructor without the SDK's name filtering (names are made
safe by documents.safe_name) and a `to_dict` that does not convert metadata the layer has
already made JSON-safe. Code written for the SDK's Subsegments records into Spans alike.

Exceptions are recorded without running user code and without marking the exception object:
the SDK sets `_recorded`/`_cause_id` on it (which fails on a class whose attributes cannot be
set, is faked by a `__getattr__`, and survives into the next invocation, whose fault would then
point at the first trace's id); here the invocation's facade remembers which exceptions its
spans recorded, so a parent refers to its child's exception by id within one trace only. The
message is read through the built-in `__str__` only, and redacted (capture.exception_message).

aws-xray-sdk is imported by `make_classes()` (its entity model only: backend.sdk_models).
"""

from __future__ import annotations

import logging
import os
import random
import time
import weakref
from typing import Any

from lambda_tracing.backend import sdk_models
from lambda_tracing.backend.span_text import tree_text, usual_values
from lambda_tracing.documents import serialize, usual_subsegment_text

logger = logging.getLogger(__name__)

# Attributes a Span keeps that never go into a document.
_NOT_IN_DOCUMENT = frozenset(
    {"sampled", "parent_segment", "_parent", "_foreign_metadata", "_sent", "_detached"}
)


class Facade:
    """Lambda's segment for one invocation, from an already validated header's parts; `data`
    is the header's tail after Sampled (`;Lineage=...`), kept for propagation."""

    type = "facade"
    name = "facade"
    in_progress = True
    # id(exception) -> (exception, its Throwable's id), for the exceptions this trace recorded:
    # made on the first one.
    recorded_exceptions: dict[int, tuple[BaseException, str]] | None = None

    def __init__(self, trace_id: str, entity_id: str, sampled: bool, data: str) -> None:
        self.trace_id = trace_id
        self.id = entity_id
        self.sampled = sampled
        self.data = data
        self._origin_trace_header: Any = None

    # Recording on the facade does nothing (Lambda sends it), as on the SDK's dummy segment:
    # code handed the facade of an unsampled trace may call these.
    def put_http_meta(self, key: str, value: Any) -> None: ...
    def put_annotation(self, key: str, value: Any) -> None: ...
    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None: ...
    def set_aws(self, aws_meta: Any) -> None: ...
    def set_sql(self, sql: Any) -> None: ...
    def add_exception(self, exception: Any, stack: Any, remote: bool = False) -> None: ...
    def apply_status_code(self, status_code: Any) -> None: ...
    def add_throttle_flag(self) -> None: ...
    def add_fault_flag(self) -> None: ...
    def add_error_flag(self) -> None: ...

    def get_origin_trace_header(self) -> Any:
        """The trace header Lambda gave, as aws-xray-sdk's TraceHeader (parsed when asked)."""
        header = self._origin_trace_header
        if header is None:
            trace_header = sdk_models.model("aws_xray_sdk.core.models.trace_header")
            fields = (field.split("=", 1) for field in self.data.split(";") if "=" in field)
            data = {key: value for key, value in fields if key != "Self"}
            header = trace_header.TraceHeader(
                root=self.trace_id, parent=self.id, sampled=1 if self.sampled else 0, data=data
            )
            self._origin_trace_header = header
        return header


class _Held:
    """A parent span held strongly, read as a weak reference is: by calling it."""

    __slots__ = ("parent",)

    def __init__(self, parent: Any) -> None:
        self.parent = parent

    def __call__(self) -> Any:
        return self.parent


def make_classes() -> tuple[type, type]:
    """(Facade, Span), Span built on the installed aws-xray-sdk's Entity."""
    entity_class = sdk_models.entity_class()
    metadata_to_dict = sdk_models.model("aws_xray_sdk.core.utils.conversion").metadata_to_dict
    throwable_class = sdk_models.model("aws_xray_sdk.core.models.throwable").Throwable
    random_bits = random.getrandbits  # ids need uniqueness, not secrecy: no syscall per id
    weak = weakref.ref
    now = time.time

    class Span(entity_class):  # type: ignore[misc, valid-type]
        """A subsegment made in one step under `parent` (the facade or another span). `name`
        must already be X-Ray-safe."""

        _foreign_metadata = False  # set on the instance by put_metadata
        _sent = False  # set on a top-level span once its document has gone out
        _detached = False  # set on a span opened under one already ended: sent on its own

        def __init__(self, name: str, namespace: str, parent: Any) -> None:
            self.id = f"{random_bits(64):016x}"
            self.name = name
            self.start_time = now()
            self.parent_id = parent.id
            self.sampled = True
            self.in_progress = True
            self.http: dict[str, Any] = {}
            self.annotations: dict[str, Any] = {}
            self.metadata: dict[str, Any] = {}
            self.aws: dict[str, Any] = {}
            self.cause: dict[str, Any] | str = {}  # a str: the id of a child's record
            self.subsegments: list[Any] = []
            segment = getattr(parent, "parent_segment", parent)
            self.parent_segment = segment
            # A child holds its parent weakly: the parent holds it (subsegments), and that
            # cycle would leave each traced call's spans to the garbage collector instead of
            # freeing them once sent (with the collector paused, about 3 KB a call). Under a
            # span sent on its own (a thread outliving its parent), strongly: the walk to the
            # top-level span must not stop where that span was freed (a cycle on a rare path).
            if parent is segment:
                self._parent = parent
            elif (
                getattr(parent, "_detached", False)
                or type(getattr(parent, "_parent", None)) is _Held
            ):
                self._parent = _Held(parent)
            else:
                self._parent = weak(parent)
            self.trace_id = segment.trace_id
            self.type = "subsegment"
            self.namespace = namespace
            self.sql: dict[str, Any] = {}

        @property
        def top_level(self) -> bool:
            """A child of Lambda's facade: sent, with its subtree, when it ends."""
            return self._parent is self.parent_segment

        def top(self) -> Any:
            """The top-level span above this one, or None once it is gone: sent, and held
            by nothing else."""
            span: Any = self
            while span is not None and not span.top_level:
                span = span._parent()
            return span

        def close(self, end_time: float | None = None) -> None:
            self._check_ended()
            self.end_time = end_time or now()
            self.in_progress = False

        def set_sql(self, sql: dict[str, Any]) -> None:
            self.sql = sql

        def add_exception(self, exception: Any, stack: Any, remote: bool = False) -> None:
            """The SDK's add_exception (a fault; the exception in `cause`, or the id of the
            same exception already recorded by a child in this trace), reading nothing from
            the exception but its type, `args` and traceback through the built-ins."""
            from lambda_tracing.capture import exception_message, type_name

            self._check_ended()
            self.add_fault_flag()
            recorded = _recorded_exceptions(self.parent_segment)
            known = recorded.get(id(exception)) if recorded is not None else None
            if known is not None and known[0] is exception:
                self.cause = known[1]
                return
            if not isinstance(self.cause, dict):
                self.cause = {}
            throwable = throwable_class.__new__(throwable_class)
            throwable.id = f"{random_bits(64):016x}"
            text = exception_message(exception)
            if text is not None:
                throwable.message = text
            throwable.type = type_name(type(exception))
            throwable.remote = remote
            try:
                throwable._normalize_stack_trace(stack)
            except Exception:  # noqa: BLE001 - a stack we cannot read is left out
                throwable.stack = None
            self.cause.setdefault("exceptions", []).append(throwable)
            self.cause["working_directory"] = working_directory()
            if recorded is not None:
                recorded[id(exception)] = (exception, throwable.id)

        def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
            self._foreign_metadata = True
            super().put_metadata(key, value, namespace)

        def put_json_metadata(self, key: str, value: Any, namespace: str) -> None:
            """put_metadata for a value already JSON-safe (capture's copies): sent as it is."""
            self._check_ended()
            section = self.metadata.get(namespace)
            if section:
                section[key] = value
            else:
                self.metadata[namespace] = {key: value}

        def to_dict(self) -> dict[str, Any]:
            """The SDK's Subsegment document: every non-empty attribute (and every flag),
            children as their own to_dict, metadata converted unless only JSON-safe values
            were put through put_json_metadata."""
            attributes = vars(self)
            kept = usual_values(attributes)
            if kept is not None:
                # The usual shape: the same document as the loop below makes, at a third of
                # its cost.
                span_id, name, start, parent, annotations, metadata, trace, kind, space, end = kept
                usual: dict[str, Any] = {
                    "id": span_id,
                    "name": name,
                    "start_time": start,
                    "parent_id": parent,
                    "in_progress": False,
                    "annotations": annotations,
                    "metadata": metadata,
                    "trace_id": trace,
                    "type": kind,
                    "namespace": space,
                    "end_time": end,
                }
                if not metadata:
                    del usual["metadata"]
                return usual
            # One comprehension, then the few keys to convert: a loop testing every key for
            # them cost a fifth more on the per-invocation path.
            document: dict[str, Any] = {
                key: value
                for key, value in attributes.items()
                if (value or value is False) and key not in _NOT_IN_DOCUMENT
            }
            children = document.get("subsegments")
            if children is not None:
                document["subsegments"] = [child.to_dict() for child in children]
            if self._foreign_metadata and "metadata" in document:
                document["metadata"] = metadata_to_dict(document["metadata"])
            cause = document.get("cause")
            if isinstance(cause, dict):
                document["cause"] = {
                    "working_directory": cause["working_directory"],
                    "exceptions": [error.to_dict() for error in cause["exceptions"]],
                }
            return document

        def to_json(self) -> str:
            """serialize(self.to_dict()), written directly where the spans are of the shapes
            this class makes: no document dicts, their maps the only parts left to the JSON
            encoder (the usual handler span's in one step)."""
            attributes = vars(self)
            kept = usual_values(attributes)
            if kept is not None:
                return usual_subsegment_text(*kept)
            try:
                return tree_text(attributes)
            except (TypeError, ValueError, OverflowError):  # not of those shapes
                return serialize(self.to_dict())

    return Facade, Span


def _recorded_exceptions(segment: Any) -> dict[int, tuple[BaseException, str]] | None:
    """The trace's record of exceptions already recorded, made on first use (None for a
    segment that cannot hold one: each exception is then recorded in full)."""
    recorded = getattr(segment, "recorded_exceptions", None)
    if recorded is None:
        recorded = {}
        try:
            segment.recorded_exceptions = recorded
        except Exception:  # noqa: BLE001
            return None
    return recorded if type(recorded) is dict else None


def working_directory() -> str:
    try:
        return os.getcwd()
    except OSError:  # removed by the handler
        return ""
