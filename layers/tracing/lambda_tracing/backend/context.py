"""Which invocation and which open span the current thread (or asyncio task) is in.

Per thread: the facade of the invocation whose trace header it last saw, and the stack of open
spans. The trace header is parsed once per invocation (a new header is a new invocation, with a
fresh facade and an empty stack), not on every lookup; hostile headers mean "no trace". Outside
a trace, an attempt to open a span follows AWS_XRAY_CONTEXT_MISSING. `_local` is a
threading.local that task_local can swap for a task-local one.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

TRACE_HEADER_VARIABLE = "_X_AMZN_TRACE_ID"
MAX_HEADER = 1024
_ROOT = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")
_PARENT = re.compile(r"^[0-9a-f]{16}$")
# The form Lambda sets, read in one match; anything else goes through the general parser.
_LAMBDA_HEADER = re.compile(
    r"Root=(1-[0-9a-f]{8}-[0-9a-f]{24});Parent=([0-9a-f]{16});Sampled=([01])((?:;[^;=]+=[^;=]*)*)$"
)
_environ_get = os.environ.get


def valid_ids(root: str | None, parent: str | None) -> bool:
    """X-Ray's id formats; anything else would make every document we send invalid."""
    return bool(root and parent and _ROOT.match(root) and _PARENT.match(parent))


def parse_header(header: str | None) -> tuple[str, str, bool, str] | None:
    """(root, parent, sampled, tail after the known fields) of a trace header, or None when it
    is missing, oversize or carries ids X-Ray would reject."""
    if not header or len(header) > MAX_HEADER:
        return None
    match = _LAMBDA_HEADER.match(header)
    if match is not None:
        return match[1], match[2], match[3] == "1", match[4]
    fields: dict[str, str] = {}
    for part in header.strip().split(";"):  # as aws-xray-sdk's TraceHeader.from_header_str
        entry = part.split("=")
        if len(entry) > 1:
            fields[entry[0]] = entry[1]
    root, parent = fields.pop("Root", None), fields.pop("Parent", None)
    if not valid_ids(root, parent):
        return None
    sampled = fields.pop("Sampled", None) == "1"
    fields.pop("Self", None)
    tail = "".join(f";{key}={value}" for key, value in fields.items())
    return root, parent, sampled, tail  # type: ignore[return-value]


class InvocationContext:
    def __init__(self, facade_class: type, context_missing: str) -> None:
        # aws-xray-sdk's global switch (AWS_XRAY_SDK_ENABLED, or set in code); its top package
        # holds no recorder and no models.
        from aws_xray_sdk import global_sdk_config

        self._sdk_enabled = global_sdk_config.sdk_enabled
        self._facade_class = facade_class
        self._missing = context_missing
        self._local: Any = threading.local()

    def enter(self, header: str | None,
              opening: Callable[[Any], Any] | None = None) -> tuple[Any, Any]:
        """Make `header`'s trace current: (its facade, None) if it already was, else (the new
        facade or None if no trace, `opening(facade)`: the invocation's first open span, or
        None). The header a facade was made for is kept with it, so the check is one lookup."""
        local = self._local
        facade = getattr(local, "segment", None)
        if facade is not None and getattr(local, "header", None) == header:
            return facade, None
        parts = parse_header(header)
        facade = None
        if parts is not None:
            root, parent, sampled, tail = parts
            facade = self._facade_class(root, parent, sampled and self._sdk_enabled(), tail)
        first = opening(facade) if opening is not None and facade is not None else None
        # Three writes: each costs a copy when the storage is task-local.
        local.segment = facade
        local.header = header
        local.entities = [] if first is None else [first]
        return facade, first

    def get_trace_entity(self) -> Any:
        """The innermost open span of this thread/task, else the invocation's facade, else None
        (no trace)."""
        facade = self.enter(_environ_get(TRACE_HEADER_VARIABLE))[0]
        entities = getattr(self._local, "entities", None)
        return entities[-1] if entities else facade

    def current_entity(self) -> Any:
        """get_trace_entity without re-reading the trace header."""
        local = self._local
        entities = getattr(local, "entities", None)
        return entities[-1] if entities else getattr(local, "segment", None)

    def open_spans(self) -> list[Any]:
        return list(getattr(self._local, "entities", None) or ())

    def attach(self, entity: Any, span_factory: Callable[[Any], Any], what: str) -> Any:
        """`span_factory(entity)` opened under `entity` (the current entity) and made the current
        one; None outside a trace or in an unsampled one."""
        if entity is None:
            self._outside_trace(what)
            return None
        if not entity.sampled:
            return None
        span = span_factory(entity)
        if entity is not getattr(span, "parent_segment", None):
            entity.add_subsegment(span)
        self._local.entities.append(span)
        return span

    def pop(self, span: Any, end_time: float) -> None:
        """Take `span` off this thread's stack; spans opened after it and left open by user code
        are closed with it."""
        entities = getattr(self._local, "entities", None)
        if not entities:
            return
        if entities[-1] is span:
            entities.pop()
        elif any(entity is span for entity in entities):  # identity: no __eq__ on entities
            while entities[-1] is not span:
                leaked = entities.pop()
                if leaked.in_progress:
                    leaked.close(end_time)
            entities.pop()

    def _outside_trace(self, what: str) -> None:
        if self._missing == "RUNTIME_ERROR":
            from aws_xray_sdk.core.exceptions.exceptions import SegmentNotFoundException

            raise SegmentNotFoundException(f"{what}: no active X-Ray trace")
        if self._missing == "LOG_ERROR":
            logger.warning("lambda_tracing: %s outside a traced invocation; discarded", what)
