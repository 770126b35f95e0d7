"""Lean aws-xray-sdk entities for the per-invocation path.

`Facade` and `Span` are subclasses of the SDK's FacadeSegment and Subsegment: to the SDK's
recorder, context, streaming and patchers they are those classes, with the same attributes and
the same documents. What differs is the cost of making and sending them, paid on every sampled
invocation: the SDK's constructors filter the name character by character and walk a chain of
`super()` calls, the facade parses Lambda's trace header into a TraceHeader that is rarely read,
and `to_dict` converts metadata that the layer has already made JSON-safe. Here a Span's name
must already be X-Ray-safe (documents.safe_name removes everything the SDK would), the facade's
origin header is parsed only when a downstream call asks for it, and metadata is converted only
if something other than the layer put it there.

aws-xray-sdk is imported by `make_classes()`, never at import of this module.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

logger = logging.getLogger(__name__)

# Attributes an SDK Entity keeps that never go into a document.
_NOT_IN_DOCUMENT = frozenset(
    {"sampled", "parent_segment", "_origin_trace_header", "_trace_data", "_foreign_metadata"}
)


def make_classes() -> tuple[type, type]:
    """(Facade, Span), built on the installed aws-xray-sdk."""
    from aws_xray_sdk.core.models.facade_segment import FacadeSegment
    from aws_xray_sdk.core.models.subsegment import Subsegment
    from aws_xray_sdk.core.models.trace_header import TraceHeader
    from aws_xray_sdk.core.utils.atomic_counter import AtomicCounter
    from aws_xray_sdk.core.utils.conversion import metadata_to_dict

    urandom = os.urandom
    now = time.time
    # A facade counts its subsegments for the SDK's streaming under one lock shared by all
    # facades (the updates are a few per invocation), not two AtomicCounters made per facade;
    # FacadeSegment never reads its ref_counter, so all share one.
    count_lock = threading.Lock()
    unused_counter = AtomicCounter()

    class Facade(FacadeSegment):  # type: ignore[misc]
        """Lambda's segment for one invocation, from an already validated header's parts;
        `data` is the header's tail after Sampled (`;Lineage=...`), kept for propagation."""

        def __init__(self, trace_id: str, entity_id: str, sampled: bool, data: str) -> None:
            self.initializing = False
            self.id = entity_id
            self.name = "facade"
            self.start_time = now()
            self.parent_id = None
            self.sampled = sampled
            self.in_progress = True
            self.http: dict[str, Any] = {}
            self.annotations: dict[str, Any] = {}
            self.metadata: dict[str, Any] = {}
            self.aws: dict[str, Any] = {}
            self.cause: dict[str, Any] = {}
            self.subsegments: list[Any] = []
            self.trace_id = trace_id
            self.user = None
            self.ref_counter = unused_counter
            self._subsegment_count = 0
            self._trace_data = data

        def add_subsegment(self, subsegment: Any) -> None:
            subsegment.parent_id = self.id
            if not self.sampled and subsegment.sampled:
                logger.warning("lambda_tracing: a sampled subsegment under an unsampled "
                               "segment will be orphaned")
            self.subsegments.append(subsegment)
            with count_lock:
                self._subsegment_count += 1

        def remove_subsegment(self, subsegment: Any) -> None:
            self.subsegments.remove(subsegment)
            with count_lock:
                self._subsegment_count -= 1

        def increment(self) -> None:
            with count_lock:
                self._subsegment_count += 1

        def decrement_subsegments_size(self) -> int:
            with count_lock:
                self._subsegment_count -= 1
                return self._subsegment_count

        def get_total_subsegments_size(self) -> int:
            return self._subsegment_count

        def get_origin_trace_header(self) -> Any:
            header = self.__dict__.get("_origin_trace_header")
            if header is None:
                fields = (field.split("=", 1) for field in self._trace_data.split(";") if field)
                data = {key: value for key, value in fields if key != "Self"}
                header = TraceHeader(root=self.trace_id, parent=self.id,
                                     sampled=1 if self.sampled else 0, data=data)
                self._origin_trace_header = header
            return header

    class Span(Subsegment):  # type: ignore[misc]
        """A subsegment made in one step. `name` must already be X-Ray-safe."""

        _foreign_metadata = False  # set on the instance by put_metadata

        def __init__(self, name: str, namespace: str, segment: Any) -> None:
            self.id = urandom(8).hex()
            self.name = name
            self.start_time = now()
            self.parent_id = None
            self.sampled = True
            self.in_progress = True
            self.http: dict[str, Any] = {}
            self.annotations: dict[str, Any] = {}
            self.metadata: dict[str, Any] = {}
            self.aws: dict[str, Any] = {}
            self.cause: dict[str, Any] = {}
            self.subsegments: list[Any] = []
            self.parent_segment = segment
            self.trace_id = segment.trace_id
            self.type = "subsegment"
            self.namespace = namespace
            self.sql: dict[str, Any] = {}

        def close(self, end_time: float | None = None) -> None:
            self._check_ended()
            self.end_time = end_time or now()
            self.in_progress = False
            self.parent_segment.decrement_ref_counter()

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
            """The SDK's document for this subsegment: every non-empty attribute (and every
            flag), children as their own to_dict, metadata converted unless only JSON-safe
            values were put through put_json_metadata."""
            document: dict[str, Any] = {}
            for key, value in vars(self).items():
                if not value and value is not False:
                    continue
                if key in _NOT_IN_DOCUMENT:
                    continue
                if key == "subsegments":
                    value = [child.to_dict() for child in value]
                elif key == "metadata":
                    if self._foreign_metadata:
                        value = metadata_to_dict(value)
                elif key == "cause" and isinstance(value, dict):
                    value = {"working_directory": value["working_directory"],
                             "exceptions": [error.to_dict() for error in value["exceptions"]]}
                document[key] = value
            return document

    return Facade, Span

