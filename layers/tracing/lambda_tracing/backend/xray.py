"""The X-Ray backend: a private aws-xray-sdk recorder, configured explicitly (no patch_all, no
global recorder), reading Lambda's facade segment from `_X_AMZN_TRACE_ID` and sending documents
to AWS_XRAY_DAEMON_ADDRESS over UDP.

aws-xray-sdk is imported when the backend is built (first traced invocation), never at import
of this module. Every public method swallows and logs its own failures.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from lambda_tracing.config import Settings
from lambda_tracing.documents import DOCUMENT_LIMIT, PROTOCOL_HEADER, fit, safe_name, serialize
from lambda_tracing.failures import log_failure

if TYPE_CHECKING:
    from aws_xray_sdk.core.recorder import AWSXRayRecorder

logger = logging.getLogger(__name__)

TRACE_HEADER_VARIABLE = "_X_AMZN_TRACE_ID"
_ROOT = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")
_PARENT = re.compile(r"^[0-9a-f]{16}$")
_MAX_HEADER = 1024
_HEADER_BYTES = PROTOCOL_HEADER.encode("ascii")
_HEADER_ATTRIBUTE = "_lambda_tracing_header"  # on a facade: the trace header it was made for
_LAMBDA_HEADER = re.compile(
    r"Root=(1-[0-9a-f]{8}-[0-9a-f]{24});Parent=([0-9a-f]{16});Sampled=([01])((?:;[^;=]+=[^;=]*)*)$"
)


def valid_ids(root: str | None, parent: str | None) -> bool:
    """X-Ray's id formats; anything else would make every document we send invalid."""
    return bool(root and parent and _ROOT.match(root) and _PARENT.match(parent))




def _parse(header: str | None) -> Any:
    """TraceHeader for `header`; hostile input (oversize, ids X-Ray would reject, fields
    without '=' that make the SDK log a warning per invocation) reads as "no trace"."""
    from aws_xray_sdk.core.models.trace_header import TraceHeader

    if not header or len(header) > _MAX_HEADER:
        return TraceHeader()
    canonical = _LAMBDA_HEADER.match(header)
    if canonical:  # the form Lambda sets: no need for the general parser
        data = dict(field.split("=", 1) for field in canonical[4].split(";") if field)
        data.pop("Self", None)  # as the SDK's parser does
        return TraceHeader(root=canonical[1], parent=canonical[2], sampled=canonical[3],
                           data=data)
    fields = ";".join(part for part in header.strip().split(";") if "=" in part)
    parsed = TraceHeader.from_header_str(fields)
    if (parsed.root or parsed.parent) and not valid_ids(parsed.root, parsed.parent):
        return TraceHeader()
    return parsed


def _make_context_class(facade_class: type) -> type:
    from aws_xray_sdk import global_sdk_config
    from aws_xray_sdk.core.exceptions.exceptions import SegmentNotFoundException
    from aws_xray_sdk.core.lambda_launcher import LambdaContext
    from aws_xray_sdk.core.models.dummy_entities import DummySegment
    from aws_xray_sdk.core.models.trace_header import TraceHeader

    environ_get = os.environ.get
    sdk_enabled = global_sdk_config.sdk_enabled
    canonical = _LAMBDA_HEADER.match

    class InvocationContext(LambdaContext):  # type: ignore[misc]
        """aws-xray-sdk's LambdaContext, plus: the trace header is parsed once per invocation
        (not on every call), hostile headers become "no trace", and calls outside a trace
        follow AWS_XRAY_CONTEXT_MISSING instead of always warning."""

        def __init__(self, context_missing: str) -> None:
            super().__init__()
            self._missing = context_missing

        def _refresh_context(self) -> None:
            self.enter(environ_get(TRACE_HEADER_VARIABLE))

        def enter(self, header: str | None,
                  opening: Callable[[Any], Any] | None = None) -> tuple[Any, Any]:
            """Make `header`'s trace current: (its segment, None) if it already was, else (the
            new segment, `opening(segment)`: the invocation's first open entity, or None). The
            header a segment was made for is kept on it, so the check costs one lookup."""
            segment = getattr(self._local, "segment", None)
            if segment is not None and getattr(segment, _HEADER_ATTRIBUTE, False) == header:
                return segment, None
            # A new header is a new invocation: always a fresh segment. (The SDK keeps the old
            # one when the new header has no Root, filing this invocation's subsegments under
            # the previous trace.)
            match = canonical(header) if header and len(header) <= _MAX_HEADER else None
            if match is not None and sdk_enabled():  # the form Lambda sets
                segment = facade_class(match[1], match[2], match[3] == "1", match[4])
                setattr(segment, _HEADER_ATTRIBUTE, header)
                first = opening(segment) if opening is not None else None
                local = self._local  # two writes: each costs a copy when it is task-local
                local.segment = segment
                local.entities = [] if first is None else [first]
                return segment, first
            self._initialize_context(_parse(header))
            segment = self._local.segment
            setattr(segment, _HEADER_ATTRIBUTE, header)
            first = opening(segment) if opening is not None else None
            if first is not None:
                self._local.entities = [first]
            return segment, first

        def get_trace_entity(self) -> Any:
            segment = self.enter(environ_get(TRACE_HEADER_VARIABLE))[0]
            entities = getattr(self._local, "entities", None)
            return entities[-1] if entities else segment

        def current_entity(self) -> Any:
            """The innermost open entity, without re-reading the trace header."""
            local = self._local
            entities = getattr(local, "entities", None)
            return entities[-1] if entities else getattr(local, "segment", None)

        def _initialize_context(self, trace_header: Any) -> None:
            if not sdk_enabled():
                trace_header = TraceHeader()
            super()._initialize_context(trace_header)

        def _outside_trace(self, what: str) -> None:
            if self._missing == "RUNTIME_ERROR":
                raise SegmentNotFoundException(f"{what}: no active X-Ray trace")
            if self._missing == "LOG_ERROR":
                logger.warning("lambda_tracing: %s outside a traced invocation; discarded", what)

        def put_subsegment(self, subsegment: Any) -> None:
            self.attach(self.get_trace_entity(), subsegment)

        def attach(self, entity: Any, subsegment: Any) -> bool:
            """Open `subsegment` under `entity` (the current entity); False if outside a trace."""
            if not self._is_subsegment(entity) and (
                getattr(entity, "initializing", None) or isinstance(entity, DummySegment)
            ):
                self._outside_trace(f"subsegment {subsegment.name}")
                return False
            entity.add_subsegment(subsegment)
            self._local.entities.append(subsegment)
            return True

        def end_subsegment(self, end_time: float | None = None) -> bool:
            entity = self.get_trace_entity()
            if not self._is_subsegment(entity):
                return False
            entity.close(end_time)
            self._local.entities.pop()
            return True

    return InvocationContext


def _make_emitter_class() -> type:
    from aws_xray_sdk.core.emitters.udp_emitter import UDPEmitter

    class BoundedUDPEmitter(UDPEmitter):  # type: ignore[misc]
        """UDPEmitter that never sends a datagram over the limit (documents are split or
        trimmed by `documents.fit`), resolves the daemon host once, and logs failures once."""

        def __init__(self, address: tuple[str, int]) -> None:
            self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._socket.setblocking(False)
            self._target: tuple[str, int] | None = None
            self._resolved = False
            self.set_daemon_address(address)

        def set_daemon_address(self, address: Any) -> None:
            from lambda_tracing.config import parse_daemon_address

            self._ip, self._port = parse_daemon_address(address)
            self._target = None
            self._resolved = False
            self._resolve()  # now, at init, rather than inside the first invocation

        def _resolve(self) -> tuple[str, int] | None:
            if not self._resolved:
                self._resolved = True
                try:
                    info = socket.getaddrinfo(self._ip, self._port, socket.AF_INET,
                                              socket.SOCK_DGRAM)
                    host, port = info[0][4][:2]
                    self._target = (str(host), int(port))
                except OSError as error:
                    log_failure(f"resolving daemon address {self._ip}", error)
            return self._target

        def send_entity(self, entity: Any) -> None:
            try:
                document = entity.to_dict()
                text = serialize(document)
                if len(text) <= DOCUMENT_LIMIT:  # ASCII: len() is the byte count
                    target = self._target if self._resolved else self._resolve()
                    if target is not None:
                        self._socket.sendto(_HEADER_BYTES + text.encode("ascii"), target)
                    return
                for text in fit(document):
                    self._send_data(PROTOCOL_HEADER + text)
            except Exception as error:  # noqa: BLE001 - an emitter must never raise
                log_failure("sending a segment document", error)

        def _send_data(self, data: str) -> None:
            target = self._resolve()
            if target is not None:
                self._socket.sendto(data.encode("utf-8"), target)

    return BoundedUDPEmitter


def _make_recorder_class() -> type:
    import copy

    from aws_xray_sdk import global_sdk_config
    from aws_xray_sdk.core.models.subsegment import Subsegment
    from aws_xray_sdk.core.recorder import XRAY_META, AWSXRayRecorder
    from aws_xray_sdk.core.sampling.local.sampler import LocalSampler
    from aws_xray_sdk.core.streaming.default_streaming import DefaultStreaming

    sdk_enabled = global_sdk_config.sdk_enabled

    class LayerRecorder(AWSXRayRecorder):  # type: ignore[misc]
        """AWSXRayRecorder set up as the SDK sets itself up inside Lambda (local sampler, no
        centralized-sampling client), wherever it runs: the parent's constructor builds a
        botocore X-Ray client when LAMBDA_TASK_ROOT is unset, which costs most of a second in
        tests and local runs and is never used here (Lambda makes the sampling decision)."""

        def __init__(self) -> None:
            self._streaming = DefaultStreaming()
            self._context = None  # set by configure(context=...)
            self.streaming_threshold = 0
            self._sampler = LocalSampler()
            self._emitter = None  # set by configure(emitter=...)
            self._sampling = False
            self._max_trace_back = 10
            self._plugins = None
            self._service = os.getenv("AWS_XRAY_TRACING_NAME")
            self._dynamic_naming = None
            self._aws_metadata = copy.deepcopy(XRAY_META)
            self._origin = None
            self._stream_sql = True

        # The SDK's patchers call these once per recorded call. The SDK's versions look the
        # current entity up (re-reading the trace header) three times each; these look it up
        # once and otherwise do the same.
        def begin_subsegment(self, name: str, namespace: str = "local") -> Any:
            if not sdk_enabled():
                return super().begin_subsegment(name, namespace)
            context = self.context
            entity = context.get_trace_entity()
            if entity is None or not entity.sampled:  # the SDK's warning or dummy subsegment
                return super().begin_subsegment(name, namespace)
            subsegment = Subsegment(name, namespace, getattr(entity, "parent_segment", entity))
            context.attach(entity, subsegment)
            return subsegment

        def end_subsegment(self, end_time: float | None = None) -> None:
            if not sdk_enabled():
                return
            context = self.context
            entity = context.get_trace_entity()
            if not context._is_subsegment(entity):
                return
            entity.close(end_time)
            context._local.entities.pop()
            segment = entity.parent_segment
            if segment.ready_to_send():
                self._send_segment()
            elif self.streaming.is_eligible(segment):
                self.streaming.stream(segment, self._stream_subsegment_out)

    return LayerRecorder


class XRayBackend:
    """TracingBackend on aws-xray-sdk. `recorder` is the SDK recorder (X-Ray specific): hand it
    to aws-xray-sdk patchers so their subsegments join the handler's."""

    def __init__(self, settings: Settings) -> None:
        from lambda_tracing.backend.entities import make_classes

        facade_class, span_class = make_classes()
        self.settings = settings
        recorder = _make_recorder_class()()
        recorder.configure(
            sampling=False,  # Lambda decided: the facade segment carries the decision
            plugins=(),
            context=_make_context_class(facade_class)(settings.context_missing),
            emitter=_make_emitter_class()(settings.daemon_address),
            streaming_threshold=0,  # send each finished subsegment tree at once, as in Lambda
        )
        self.recorder: AWSXRayRecorder = recorder
        self._context: Any = recorder.context
        self._span_class: Any = span_class

    # --- emitter access, for the pytest plugin ---
    @property
    def emitter(self) -> Any:
        return self.recorder.emitter

    @emitter.setter
    def emitter(self, value: Any) -> None:
        self.recorder.emitter = value

    # --- TracingBackend ---
    def is_sampled(self) -> bool:
        try:
            return bool(self.recorder.is_sampled())
        except Exception as error:  # noqa: BLE001
            log_failure("is_sampled", error)
            return False

    def begin_invocation(self, name: str, header: str | None) -> Any:
        """begin_subsegment for the handler, with the trace header the caller already read."""
        try:
            context = self._context

            def opening(segment: Any) -> Any:  # a new invocation: the span opens its stack
                if not segment.sampled or getattr(segment, "initializing", False):
                    return None
                span = self._span_class(safe_name(name), "local", segment)
                segment.add_subsegment(span)
                return span

            segment, span = context.enter(header, opening)
            if span is None and segment is not None and segment.sampled:
                # The same invocation again (a test, nested handlers): the general way.
                return self._open(context.current_entity(), name, "local", None)
            return span
        except Exception as error:  # noqa: BLE001
            log_failure("begin_subsegment", error)
            return None

    def begin_subsegment(self, name: str, namespace: str = "local",
                         start_time: float | None = None) -> Any:
        # Straight on the SDK's context and models: the recorder's helper would re-read the
        # trace header three more times per call.
        try:
            return self._open(self._context.get_trace_entity(), name, namespace, start_time)
        except Exception as error:  # noqa: BLE001
            log_failure("begin_subsegment", error)
            return None

    def _open(self, entity: Any, name: str, namespace: str, start_time: float | None) -> Any:
        if entity is None or not entity.sampled:
            return None
        span = self._span_class(safe_name(name), namespace,
                                getattr(entity, "parent_segment", entity))
        if start_time is not None:
            span.start_time = start_time
        return span if self._context.attach(entity, span) else None

    def end_subsegment(self, span: Any, end_time: float | None = None) -> None:
        """Close `span`; a top-level one (child of Lambda's facade) is sent with its subtree at
        once, as the SDK's Lambda streaming would. Children left open by user code are closed
        with it (or, if they belong to another thread, sent as still in progress)."""
        if span is None:
            return
        try:
            end_time = time.time() if end_time is None else end_time
            local = self._context._local
            entities = getattr(local, "entities", None)
            if entities and entities[-1] is span:
                entities.pop()
            elif entities and span in entities:  # identity: entities define no __eq__
                while entities[-1] is not span:
                    leaked = entities.pop()
                    if leaked.in_progress:
                        leaked.close(end_time)
                entities.pop()
            if span.in_progress:
                span.close(end_time)
            segment = span.parent_segment
            if span in segment.subsegments:
                segment.remove_subsegment(span)
                if span.sampled:
                    self.recorder.emitter.send_entity(span)
        except Exception as error:  # noqa: BLE001
            log_failure("end_subsegment", error)

    @contextmanager
    def in_subsegment(self, name: str, namespace: str = "local") -> Iterator[Any]:
        span = self.begin_subsegment(name, namespace)
        try:
            yield span
        except BaseException as error:
            self.add_exception(span, error)
            raise
        finally:
            self.end_subsegment(span)

    def add_exception(self, span: Any, error: BaseException) -> None:
        """Record `error` on `span` as a fault, with its traceback (our frames left out)."""
        if span is None:
            return
        try:
            from lambda_tracing.stacks import user_frames

            span.add_exception(error, user_frames(error, self.recorder.max_trace_back))
        except Exception as failure:  # noqa: BLE001
            log_failure("recording an exception", failure)

    def current_span(self) -> Any:
        try:
            if not self.recorder.is_sampled():
                return None
            return self.recorder.current_subsegment()
        except Exception as error:  # noqa: BLE001
            log_failure("current_span", error)
            return None

    def trace_header(self) -> str | None:
        try:
            entity = self.recorder.get_trace_entity()
            segment = getattr(entity, "parent_segment", entity)
            trace_id = getattr(segment, "trace_id", None)
            if type(segment).__name__ == "DummySegment" or not valid_ids(
                trace_id, getattr(entity, "id", None)
            ):
                return None
            sampled = 1 if getattr(entity, "sampled", False) else 0
            return f"Root={trace_id};Parent={entity.id};Sampled={sampled}"
        except Exception as error:  # noqa: BLE001
            log_failure("trace_header", error)
            return None

    def spans(self) -> Iterator[Any]:
        entities = getattr(self._context._local, "entities", None) or ()
        yield from list(entities)


class NoopBackend:
    """Used when tracing is disabled or the X-Ray SDK cannot start: does nothing, safely."""

    recorder = None

    def is_sampled(self) -> bool:
        return False

    def begin_invocation(self, name: str, header: str | None) -> None:
        return None

    def begin_subsegment(self, name: str, namespace: str = "local",
                         start_time: float | None = None) -> None:
        return None

    def end_subsegment(self, span: Any, end_time: float | None = None) -> None:
        return None

    @contextmanager
    def in_subsegment(self, name: str, namespace: str = "local") -> Iterator[None]:
        yield None

    def add_exception(self, span: Any, error: BaseException) -> None:
        return None

    def current_span(self) -> None:
        return None

    def trace_header(self) -> None:
        return None

    def spans(self) -> Iterator[Any]:
        return iter(())
