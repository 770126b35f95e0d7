"""The OTLP emitter (LAMBDA_TRACING_EXPORTER=otlp): the spans the layer records, sent as OTLP
spans in the framing ADOT uses on Lambda, to AWS_XRAY_DAEMON_ADDRESS.

A datagram is the daemon's header line, `T1S`, then the base64 of an ExportTraceServiceRequest
(aws-otel-python-instrumentation's OTLPUdpSpanExporter sends the same). The instrumentation is
unchanged: spans are recorded on aws-xray-sdk's entity model as in X-Ray mode, and this emitter
takes the place of the segment-document one (`send_entity`, same document as X-Ray mode's), so
redaction and capture limits are the same. Only sampled invocations are recorded, so `T1U` is
never sent.

Mapping (OpenTelemetry semantic conventions, as OTel's Lambda, botocore and requests
instrumentations write them; X-Ray's own OTLP conversion reads the `aws.xray.*` keys):
- ids: the X-Ray root without `1-` and dashes is the 128-bit trace id; entity ids are span ids;
  a top-level span's parent is the header's Parent (Lambda's function segment).
- the handler's span is SERVER, with faas.invocation_id and faas.coldstart; botocore calls
  (namespace aws) and HTTP calls (namespace remote) are CLIENT; everything else INTERNAL.
- aws: rpc.system=aws-api, rpc.service, rpc.method, aws.region, aws.request_id,
  aws.dynamodb.table_names, aws.queue_url, aws.sns.topic.arn, faas.invoked_name,
  aws.s3.bucket, other keys as aws.<key>; the span is named
  `Service.Operation`.
- http: http.request.method, url.full, server.address, http.response.status_code; an HTTP
  client span is named after its method.
- annotations: attributes of their own name, listed in `aws.xray.annotations`; metadata: one
  JSON attribute per namespace, `aws.xray.metadata.<namespace>`.
- fault/error/throttle: status ERROR; recorded exceptions: `exception` events.

A span that is no AWS or remote call and recorded no exception (the handler's, custom spans) is
written by otlp_template.FlatSpans from parts encoded once per process, the same bytes as
SpanConverter's; an AWS or HTTP call's span of the usual shape by otlp_calls.CallSpans, from
parts encoded once per call site; in a tree, each such span's entry is, the rest SpanConverter's.
The usual handler span's whole datagram comes from otlp_datagrams.HandlerDatagrams, a skeleton
kept per shape (send_entity tries the last shape's first, before reading the span any other
way).

A span too big for one datagram is cut down as documents.fit cuts a document (big metadata
replaced by a marker, long strings cut, then identity and timing only), so nothing is lost
without a mark and nothing is half-sent.
"""

from __future__ import annotations

import binascii
import os
from collections.abc import Iterator, Sequence
from typing import Any

from lambda_tracing import documents
from lambda_tracing.backend import otlp_encode as enc
from lambda_tracing.backend.emitter import UDPEmitter
from lambda_tracing.backend.handler_span import HandlerSpan
from lambda_tracing.backend.otlp_attributes import SERVICE_IDS, aws_attributes, http_attributes
from lambda_tracing.backend.otlp_calls import CallSpans
from lambda_tracing.backend.otlp_datagrams import HandlerDatagrams
from lambda_tracing.backend.otlp_template import (
    ANNOTATIONS_KEY,
    DATAGRAM_LIMIT,
    HANDLER_MARK,
    METADATA_PREFIX,
    FlatSpans,
)
from lambda_tracing.backend.otlp_template import nanos as _nanos
from lambda_tracing.failures import log_failure

HEADER = documents.PROTOCOL_HEADER.encode("ascii")
SAMPLED_PREFIX = b"T1S"
FRAMING = HEADER + SAMPLED_PREFIX  # what precedes the base64 request in every datagram
# The largest request whose base64 fits in one datagram after the header and prefix.
REQUEST_LIMIT = (DATAGRAM_LIMIT - len(HEADER) - len(SAMPLED_PREFIX)) // 4 * 3
SCOPE_NAME = "lambda_tracing"
SCOPE_VERSION = "1"

_ATTRIBUTE_TAG = b"\x4a"  # Span.attributes
_REMOTE_PARENT = enc.FLAG_SAMPLED | enc.FLAG_HAS_IS_REMOTE | enc.FLAG_IS_REMOTE
_LOCAL_PARENT = enc.FLAG_SAMPLED | enc.FLAG_HAS_IS_REMOTE


def resource_attributes(service: str, environ: Any = os.environ) -> list[tuple[str, Any]]:
    """What ADOT's Lambda layer puts on its resource (its wrapper's OTEL_RESOURCE_ATTRIBUTES
    and OTEL_SERVICE_NAME), from Lambda's environment. The service is named as ADOT names it
    (OTEL_SERVICE_NAME, else the function's name), so X-Ray shows the handler's spans on the
    function's own node; POWERTOOLS_SERVICE_NAME stays in the Service annotation."""
    get = environ.get
    pairs: list[tuple[str, Any]] = [
        ("service.name", get("OTEL_SERVICE_NAME") or get("AWS_LAMBDA_FUNCTION_NAME") or service),
        ("cloud.provider", "aws"),
        ("cloud.platform", "aws_lambda"),
        ("telemetry.sdk.name", "lambda-tracing"),
        ("telemetry.sdk.language", "python"),
    ]
    for key, variable in (
        ("cloud.region", "AWS_REGION"),
        ("faas.name", "AWS_LAMBDA_FUNCTION_NAME"),
        ("faas.version", "AWS_LAMBDA_FUNCTION_VERSION"),
        ("faas.instance", "AWS_LAMBDA_LOG_STREAM_NAME"),
    ):
        value = get(variable)
        if value:
            pairs.append((key, value))
    memory = get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
    if memory.isdigit():
        pairs.append(("faas.max_memory", int(memory) * 1024 * 1024))
    group = get("AWS_LAMBDA_LOG_GROUP_NAME")
    if group:
        pairs.append(("aws.log.group.names", [group]))
    return pairs


def trace_id_bytes(root: str) -> bytes:
    """`1-5759e988-bd862e3fe1be46a994272793` -> the 16 bytes of the W3C trace id."""
    return bytes.fromhex(root[2:].replace("-", ""))


class SpanConverter:
    """Spans (backend.entities.Span, read through their attributes, or the documents their
    to_dict makes) -> encoded span entries, one per node."""

    def __init__(self, entry_limit: int) -> None:
        self._limit = entry_limit
        self._trace: tuple[str, bytes] = ("", b"")

    def entries(
        self,
        root: Any,
        handler: bool = False,
        remote_parent: bool = False,
        flat: FlatSpans | None = None,
        calls: CallSpans | None = None,
    ) -> Iterator[bytes]:
        """Every span of `root`'s tree (a Span or its document) as a ScopeSpans.spans entry,
        parents first, each within the entry limit. `handler`: the root is the invocation's
        (SERVER) span; `remote_parent`: the root's parent is Lambda's segment (the trace
        header's Parent). `flat` and `calls` make the entries of the spans they cover (the
        same bytes, in fewer operations: a custom span's, the handler's above its calls, an AWS
        call's); where they fail, the general way makes the entry."""
        stack: list[tuple[Any, bool]] = [(root, handler)]
        while stack:
            item, is_handler = stack.pop()
            node = item if isinstance(item, dict) else _view(item)
            children = node.get("subsegments") or ()
            stack.extend((child, False) for child in reversed(children))
            remote = remote_parent and item is root
            if flat is not None and node is not item:  # a span's own attributes
                try:
                    entry = flat.entry(node, is_handler, remote, in_tree=True)
                    if entry is None and calls is not None:
                        entry = calls.entry(node, remote)
                except Exception:  # noqa: BLE001 - e.g. metadata that is not JSON: the
                    entry = None  # general way marks it (and logs what it cannot do)
                if entry is not None and len(entry) <= self._limit:
                    yield entry
                    continue
            yield self.entry(node, is_handler, remote)

    def entry(self, node: dict[str, Any], handler: bool, remote_parent: bool) -> bytes:
        """One span entry; a node too big is cut down as documents.fit cuts a document, and
        metadata that is not JSON is marked as documents.fit marks it."""
        try:
            body = self.encode(node, handler, remote_parent)
        except Exception:  # noqa: BLE001 - an object of the user's whose str() raises, say
            node = documents.mark_unserializable_metadata(dict(node))
            body = self.encode(node, handler, remote_parent)
        entry = enc.span_entry(body)
        if len(entry) <= self._limit:
            return entry
        alone = {key: value for key, value in node.items() if key != "subsegments"}
        for shrink in (documents._drop_big_metadata, documents._cut_long_strings):
            alone = shrink(alone)
            entry = enc.span_entry(self.encode(alone, handler, remote_parent))
            if len(entry) <= self._limit:
                return entry
        stripped = documents._strip(alone, len(entry))
        return enc.span_entry(self.encode(stripped, handler, remote_parent))

    def _trace_id(self, root: str) -> bytes:
        if self._trace[0] != root:
            self._trace = (root, trace_id_bytes(root))
        return self._trace[1]

    def encode(self, node: dict[str, Any], handler: bool, remote_parent: bool) -> bytes:
        get = node.get
        namespace = get("namespace")
        name = get("name")
        name = name if type(name) is str else str(name or "unnamed")
        pairs: list[tuple[str, Any]] = []
        if handler:
            kind = enc.KIND_SERVER
        elif namespace == "aws" or namespace == "remote":
            kind = enc.KIND_CLIENT
        else:
            kind = enc.KIND_INTERNAL
        aws = get("aws")
        if namespace == "aws":
            name = SERVICE_IDS.get(name, name)
            pairs.append(("rpc.system", "aws-api"))
            pairs.append(("rpc.service", name))
            if aws and isinstance(aws, dict) and aws.get("operation"):
                name = f"{name}.{aws['operation']}"
        if aws and isinstance(aws, dict):
            aws_attributes(aws, pairs, namespace == "aws")
        http = get("http")
        if http and isinstance(http, dict):
            method = http_attributes(http, pairs)
            if method and namespace == "remote":
                name = method
        annotations = get("annotations")
        if annotations and isinstance(annotations, dict):
            if handler:
                if "RequestId" in annotations:
                    pairs.append(("faas.invocation_id", annotations["RequestId"]))
                if HANDLER_MARK in annotations:
                    pairs.append(("faas.coldstart", bool(annotations[HANDLER_MARK])))
            pairs.extend(annotations.items())
            pairs.append((ANNOTATIONS_KEY, tuple(annotations)))
        metadata = get("metadata")
        links: list[bytes] = []
        if metadata and isinstance(metadata, dict):
            for space, values in metadata.items():
                pairs.append((METADATA_PREFIX + str(space), documents.serialize(values)))
            if "lambda_tracing" in metadata:
                links = _links(metadata)
        start = _nanos(get("start_time"))
        end = get("end_time")
        end = start if end is None else _nanos(end)
        cause = get("cause")
        events, message = _exception_events(cause, end) if cause else ((), "")
        failed = get("fault") or get("error") or get("throttle")
        parent = get("parent_id")
        return enc.span(
            self._trace_id(str(node["trace_id"])),
            bytes.fromhex(node["id"]),
            bytes.fromhex(parent) if parent else None,
            name,
            kind,
            start,
            end,
            enc.attributes(pairs, _ATTRIBUTE_TAG),
            events,
            links,
            enc.STATUS_ERROR if failed else enc.STATUS_UNSET,
            message if failed else "",
            _REMOTE_PARENT if remote_parent else _LOCAL_PARENT,
        )


def _view(span: Any) -> dict[str, Any]:
    """A span's attributes, read in place (what to_dict would copy); through to_dict when
    they need converting: metadata put by other code, recorded exceptions."""
    node: dict[str, Any] = vars(span)
    if node.get("_foreign_metadata") or node.get("cause"):
        return span.to_dict()  # type: ignore[no-any-return]
    return node


def _exception_events(cause: Any, time_ns: int) -> tuple[Sequence[bytes], str]:
    """OTel's `exception` events (exception.type, .message, .stacktrace) of an X-Ray cause."""
    if not isinstance(cause, dict):
        return [], ""
    events = []
    message = ""
    for error in cause.get("exceptions") or ():
        if not isinstance(error, dict):
            continue
        text = str(error.get("message") or "")
        message = message or text
        pairs: list[tuple[str, Any]] = [
            ("exception.type", str(error.get("type") or "Exception")),
            ("exception.message", text),
        ]
        stack = error.get("stack")
        if isinstance(stack, list) and stack:
            pairs.append(
                (
                    "exception.stacktrace",
                    "\n".join(
                        f'  File "{frame.get("path")}", line {frame.get("line")}, '
                        f"in {frame.get('label')}"
                        for frame in stack
                        if isinstance(frame, dict)
                    ),
                )
            )
        events.append(enc.event(time_ns, "exception", pairs))
    return events, message


def _links(metadata: dict[str, Any]) -> list[bytes]:
    """The upstream traces the sources module recorded (`lambda_tracing.links`) as span links."""
    section = metadata.get("lambda_tracing")
    found = section.get("links") if isinstance(section, dict) else None
    links = []
    for item in found if isinstance(found, list) else ():
        if not isinstance(item, dict):
            continue
        root, parent = item.get("trace_id"), item.get("parent_id")
        try:
            trace_id, span_id = trace_id_bytes(root), bytes.fromhex(parent)  # type: ignore[arg-type]
        except (TypeError, ValueError, AttributeError):
            continue
        if len(trace_id) == 16 and len(span_id) == 8:
            flags = enc.FLAG_SAMPLED if item.get("sampled") == 1 else 0
            links.append(enc.link(trace_id, span_id, (("source", str(item.get("source"))),), flags))
    return links


def pack(entries: list[bytes], frame: enc.RequestFrame) -> Iterator[bytes]:
    """Requests of whole spans, in order, each at most REQUEST_LIMIT bytes."""
    budget = REQUEST_LIMIT - frame.overhead
    if len(entries) == 1:  # the usual invocation: entries are always within the budget
        yield frame.request(entries)
        return
    batch: list[bytes] = []
    size = 0
    for entry in entries:
        if batch and size + len(entry) > budget:
            yield frame.request(batch)
            batch, size = [], 0
        batch.append(entry)
        size += len(entry)
    if batch:
        yield frame.request(batch)


class OTLPEmitter(UDPEmitter):
    """`send_entity(span)`: the span and its subtree as OTLP, one datagram while it fits."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings.daemon_address)
        self._frame = enc.RequestFrame(
            resource_attributes(settings.service), SCOPE_NAME, SCOPE_VERSION
        )
        self._limit = REQUEST_LIMIT - self._frame.overhead
        self._converter = SpanConverter(self._limit)
        self._flat = FlatSpans(_links)
        self._calls = CallSpans()
        self._handlers = HandlerDatagrams(self._flat, self._frame, FRAMING)

    def send_entity(self, entity: Any) -> None:
        try:
            if type(entity) is HandlerSpan:  # the wrapper's alone, its attributes as a span's
                if entity.span is None and entity.end_time is not None:
                    datagram = self._handlers.usual_handler(entity)
                    if datagram is not None:
                        self.send_datagrams([datagram])
                        return
                entity = entity.materialize()  # anything else: the Span's way
            # The usual invocation's in few operations, if it is one (otlp_datagrams).
            datagram = self._handlers.usual(getattr(entity, "__dict__", None))
            if datagram is not None:
                self.send_datagrams([datagram])
                return
            if not getattr(entity, "subsegments", True):  # no children
                node = vars(entity)
                annotations = node.get("annotations")
                top_level = bool(entity.top_level)
                handler = bool(top_level and annotations and HANDLER_MARK in annotations)
                # Mostly pre-encoded (otlp_template); the general way for what it does not cover,
                # and for what it fails on: a bug there must not cost the span.
                try:
                    if handler:
                        datagram = self._handlers.datagram(node)
                    else:
                        entry = self._flat.entry(node, False, top_level) or self._calls.entry(
                            node, top_level
                        )
                        datagram = entry and self._frame.datagram(FRAMING, entry)
                except Exception as error:  # noqa: BLE001 - logged, then the general way
                    log_failure("encoding the usual OTLP span", error)
                    datagram = None
                if datagram is None or len(datagram) > DATAGRAM_LIMIT:
                    entry = self._converter.entry(_view(entity), handler, top_level)
                    datagram = self._frame.datagram(FRAMING, entry)
                self.send_datagrams([datagram])
                return
            annotations = getattr(entity, "annotations", None)
            top_level = bool(getattr(entity, "top_level", False))
            handler = bool(top_level and annotations and HANDLER_MARK in annotations)
            entries = list(
                self._converter.entries(entity, handler, top_level, self._flat, self._calls)
            )
            # One send for the whole invocation: through the base emitter's checks (the
            # daemon's host resolved, the descriptor still ours, not a forked child).
            spans = b"".join(entries)
            if len(spans) <= self._limit:  # one request: its prefix's base64 mostly kept
                self.send_datagrams([self._frame.datagram(FRAMING, spans)])
                return
            self.send_datagrams(
                [
                    FRAMING + binascii.b2a_base64(request, newline=False)
                    for request in pack(entries, self._frame)
                ]
            )
        except Exception as error:  # noqa: BLE001 - an emitter must never raise
            log_failure("sending OTLP spans", error)
