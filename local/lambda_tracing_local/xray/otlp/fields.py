"""The parts of a span as X-Ray writes them: attribute values, ids, names, origin, and the
http, aws, sql, cause, annotations, metadata and links of a document (the rows of OTLP.md,
each citing the collector's translator file it follows). convert.py puts them together.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from ..documents import NAME_OUTSIDE
from ..graph import AWS_SERVICE_NAMES

MAX_TEXT = 250  # the schema's limit on http fields
NAME_LIMIT = 200  # the schema's limit on names
CALL_KINDS = (Span.SPAN_KIND_CLIENT, Span.SPAN_KIND_PRODUCER)
# cloud.platform -> origin (collector: segment.go, determineAwsOrigin).
ORIGINS = {
    "aws_lambda": "AWS::Lambda::Function",
    "aws_ec2": "AWS::EC2::Instance",
    "aws_ecs": "AWS::ECS::Container",
    "aws_eks": "AWS::EKS::Container",
    "aws_elastic_beanstalk": "AWS::ElasticBeanstalk::Environment",
    "aws_app_runner": "AWS::AppRunner::Service",
}
# db.system values that make an sql block (collector: sql.go, isSQL).
SQL_SYSTEMS = frozenset(
    ("db2", "derby", "hive", "mariadb", "mssql", "mysql", "oracle", "postgresql", "sqlite")
    + ("teradata", "other_sql")
)
ANNOTATION_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
# The lines between a Python exception and the one raised while handling it (or from it).
CHAINED = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)
PYTHON_FRAME = re.compile(r'^\s*File "(?P<path>[^"]*)", line (?P<line>\d+), in (?P<label>.*)$')


class SpanRejected(ValueError):
    """A span X-Ray would not take; the message says why."""


# -- values --------------------------------------------------------------------------------


def value_of(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [value_of(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return attributes_of(value.kvlist_value.values)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    result = getattr(value, which)
    if which == "double_value" and not math.isfinite(result):
        return str(result)  # JSON has no NaN or Infinity
    return result


def attributes_of(pairs: Any) -> dict[str, Any]:
    return {pair.key: value_of(pair.value) for pair in pairs}


class Attributes:
    """A span's attributes; remembers which were read into the document's fields, so the
    rest can go to its metadata (the collector does the same)."""

    def __init__(self, pairs: list[KeyValue] | Any) -> None:
        self.values = attributes_of(pairs)
        self.used: set[str] = set()

    def take(self, *names: str) -> Any:
        for name in names:
            value = self.values.get(name)
            if value is not None and value != "":
                self.used.add(name)
                return value
        return None

    def peek(self, name: str) -> Any:
        return self.values.get(name)

    def rest(self) -> dict[str, Any]:
        return {k: v for k, v in self.values.items() if k not in self.used}


# -- ids ------------------------------------------------------------------------------------


def xray_trace_id(trace_id: bytes) -> str:
    """Any W3C trace id as X-Ray shows it: 1-<first 8 hex>-<last 24 hex>."""
    if len(trace_id) != 16 or not any(trace_id):
        raise SpanRejected(f"trace id {trace_id.hex() or '(empty)'} is not 16 non-zero bytes")
    text = trace_id.hex()
    return f"1-{text[:8]}-{text[8:]}"


def span_id_of(span_id: bytes, what: str = "span id") -> str:
    if len(span_id) != 8 or not any(span_id):
        raise SpanRejected(f"{what} {span_id.hex() or '(empty)'} is not 8 non-zero bytes")
    return span_id.hex()


def derived_id(span_id: str, salt: str) -> str:
    """A stable 16-hex id for an element X-Ray makes that the span has no id for."""
    return hashlib.blake2b(f"{span_id}/{salt}".encode(), digest_size=8).hexdigest()


# -- the span's parts ----------------------------------------------------------------------


def clean_name(name: Any) -> str:
    """A name X-Ray takes (documents.NAME_OUTSIDE): unsafe characters dropped, at most 200,
    "span" if nothing is left (collector: segment.go, fixSegmentName)."""
    return NAME_OUTSIDE.sub("", str(name))[:NAME_LIMIT] or "span"


def service_name(resource: dict[str, Any]) -> str | None:
    name = resource.get("service.name")
    if not name or str(name).startswith("unknown_service"):
        name = resource.get("faas.name") or name  # the SDK's default says nothing
    return str(name) if name else None


def origin_of(resource: dict[str, Any]) -> str | None:
    if resource.get("cloud.provider") not in (None, "aws"):
        return None
    return ORIGINS.get(str(resource.get("cloud.platform")))


def _text(value: Any) -> str:
    return str(value)[:MAX_TEXT]


def url_of(attributes: Attributes) -> str | None:
    url = attributes.take("url.full", "http.url")
    if url:
        return str(url)
    host = attributes.take("server.address", "http.host", "net.host.name", "net.peer.name")
    if not host:
        return None
    scheme = attributes.take("url.scheme", "http.scheme") or "http"
    port = attributes.take("server.port", "net.host.port", "net.peer.port")
    default_port = {"http": 80, "https": 443}.get(str(scheme))
    authority = f"{host}:{port}" if port and port != default_port and ":" not in str(host) else host
    path = attributes.take("url.path", "http.target") or ""
    query = attributes.take("url.query")
    return f"{scheme}://{authority}{path}" + (f"?{query}" if query else "")


def http_block(attributes: Attributes) -> dict[str, Any]:
    request: dict[str, Any] = {}
    method = attributes.take("http.request.method", "http.method")
    if method:
        request["method"] = _text(method)
    url = url_of(attributes)
    if url:
        request["url"] = _text(url)
    forwarded = attributes.take("http.client_ip")  # from X-Forwarded-For
    client_ip = forwarded or attributes.take("client.address", "net.peer.ip")
    if client_ip:
        request["client_ip"] = _text(client_ip)
        if forwarded:
            request["x_forwarded_for"] = True
    agent = attributes.take("user_agent.original", "http.user_agent")
    if agent:
        request["user_agent"] = _text(agent)
    response: dict[str, Any] = {}
    status = http_status(attributes)
    if status is not None:
        response["status"] = status
    length = attributes.take("http.response.body.size", "http.response_content_length")
    if isinstance(length, (int, float)) and not isinstance(length, bool):
        response["content_length"] = length
    block = {}
    if request and (method or url):
        block["request"] = request
    if response:
        block["response"] = response
    return block


def http_status(attributes: Attributes) -> int | None:
    status = attributes.take("http.response.status_code", "http.status_code")
    try:
        return int(status) if status is not None and not isinstance(status, bool) else None
    except (TypeError, ValueError):
        return None


def aws_call_block(attributes: Attributes, resource: dict[str, Any]) -> dict[str, Any]:
    """The aws block of an rpc.system=aws-api span (collector: aws.go, makeAws)."""
    block: dict[str, Any] = {}
    fields = {
        "operation": ("rpc.method", "aws.operation"),
        "region": ("aws.region", "cloud.region"),
        "request_id": ("aws.request_id", "aws.requestId"),
        "account_id": ("aws.account_id",),
        "queue_url": ("messaging.url", "aws.queue_url", "aws.queueUrl", "aws.sqs.queue.url"),
        "topic_arn": ("aws.sns.topic.arn",),
        "function_name": ("aws.lambda.function.name", "faas.invoked_name"),
        "bucket_name": ("aws.s3.bucket",),
    }
    for key, names in fields.items():
        value = attributes.take(*names)
        if value is not None:
            block[key] = str(value)
    if "region" not in block and resource.get("cloud.region"):
        block["region"] = str(resource["cloud.region"])
    tables = attributes.take("aws.dynamodb.table_names", "aws.table_name", "aws.tableName")
    if isinstance(tables, list) and len(tables) == 1:
        tables = tables[0]
    if isinstance(tables, str):
        block["table_name"] = tables
    elif isinstance(tables, list) and tables:
        block["resource_names"] = [str(table) for table in tables]
    # ADOT names the resource a call reaches (Application Signals' attributes).
    resource_type = attributes.peek("aws.remote.resource.type")
    named = {"AWS::DynamoDB::Table": "table_name", "AWS::Lambda::Function": "function_name"}.get(
        str(resource_type)
    )
    if named and named not in block and attributes.peek("aws.remote.resource.identifier"):
        attributes.take("aws.remote.resource.type")
        block[named] = str(attributes.take("aws.remote.resource.identifier"))
    return block


def aws_service(attributes: Attributes) -> str:
    """X-Ray's name for the service an aws-api span calls: DynamoDB, SQS, SNS, Lambda...
    ADOT's aws.remote.service ("AWS::DynamoDB") first, then rpc.service (collector:
    segment.go, trimAwsSdkPrefix), in the botocore spelling X-Ray's graph uses."""
    service = str(attributes.take("aws.remote.service", "rpc.service") or "AWS")
    for prefix in ("AWS::", "AWS.SDK."):
        service = service.removeprefix(prefix)
    return AWS_SERVICE_NAMES.get(service.lower(), service)


def sql_call(span: Span, attributes: Attributes) -> dict[str, Any] | None:
    """Name and sql block of a span on an SQL database (collector: sql.go, makeSQL; name
    "<db name>@<host>" from segment.go)."""
    system = attributes.peek("db.system") or attributes.peek("db.system.name")
    if not isinstance(system, str) or system not in SQL_SYSTEMS:
        return None
    attributes.take("db.system", "db.system.name")
    database = str(attributes.take("db.name", "db.namespace") or "")
    connection = str(attributes.take("db.connection_string") or "")
    host = _host_of(connection.removeprefix("jdbc:")) or attributes.take(
        "server.address", "net.peer.name"
    )
    block: dict[str, Any] = {
        "url": span.name,  # the collector's choice: the connection string says less
        "connection_string": f"{connection or 'localhost'}/{database}",
        "database_type": str(system),
    }
    user = attributes.take("db.user")
    if user:
        block["user"] = _text(user)
    query = attributes.take("db.query.text", "db.statement")
    if query:
        block["sanitized_query"] = str(query)
    name = f"{database}@{host}" if database and host else database or host or str(system)
    return {"name": name, "sql": block}


def call_fields(span: Span, attributes: Attributes, resource: dict[str, Any]) -> dict[str, Any]:
    """name, namespace and blocks of a client or producer span: an AWS call (namespace
    "aws"), an SQL database or any other client call (namespace "remote")."""
    peer = attributes.take("peer.service")
    if attributes.peek("rpc.system") == "aws-api":
        attributes.take("rpc.system")
        service = aws_service(attributes)
        return {
            "name": peer or service,
            "namespace": "aws",
            "aws": aws_call_block(attributes, resource),
        }
    remote = span.kind == Span.SPAN_KIND_CLIENT or attributes.peek("aws.remote.service")
    fields: dict[str, Any] = {"namespace": "remote"} if remote else {}
    sql = sql_call(span, attributes)
    if sql is not None:
        fields.update(sql, namespace="remote")
    else:
        http = http_block(attributes)
        if http:
            fields["http"] = http
        url = (http.get("request") or {}).get("url")
        fields["name"] = attributes.take(
            "aws.remote.service", "rpc.service", "http.host", "net.peer.name", "server.address"
        ) or _host_of(url)
    if peer:
        fields["name"] = peer
    return fields


def _host_of(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def outcome(span: Span, status: int | None) -> dict[str, bool]:
    """error (4xx), throttle (429) and fault (5xx, or status ERROR otherwise) as the
    collector's cause.go sets them."""
    if status is not None and 400 <= status <= 499:
        return {"error": True, "throttle": True} if status == 429 else {"error": True}
    if status is not None and 500 <= status <= 599:
        return {"fault": True}
    if span.status.code == Status.STATUS_CODE_ERROR:
        return {"fault": True}
    return {}


def cause_of(span: Span, span_id: str) -> dict[str, Any] | None:
    """Exception events (remote on client and producer spans), else the status message
    of an ERROR status (collector: cause.go, makeCause)."""
    remote = span.kind in CALL_KINDS
    exceptions = []
    for index, event in enumerate(span.events):
        if event.name != "exception":
            continue
        values = attributes_of(event.attributes)
        exception: dict[str, Any] = {"id": derived_id(span_id, f"exception{index}")}
        if remote:
            exception["remote"] = True
        if values.get("exception.type"):
            exception["type"] = str(values["exception.type"])
        if values.get("exception.message") is not None:
            exception["message"] = str(values["exception.message"])
        exceptions.extend(with_stacks(exception, str(values.get("exception.stacktrace") or "")))
    if not exceptions and span.status.code == Status.STATUS_CODE_ERROR and span.status.message:
        exceptions.append({"id": derived_id(span_id, "status"), "message": span.status.message})
    return {"exceptions": exceptions} if exceptions else None


def with_stacks(exception: dict[str, Any], traceback: str) -> list[dict[str, Any]]:
    """The exception with the frames of Python's traceback text, innermost first as the
    SDKs write them; each exception it was raised while handling (or from) becomes an entry
    of its own, named by `cause` (collector: cause.go, fillPythonStacktrace)."""
    chain, current = [exception], exception
    lines = traceback.split("\n")
    index = len(lines) - 1
    while index >= 0:
        line = lines[index]
        frame = PYTHON_FRAME.match(line)
        if frame:
            current.setdefault("stack", []).append(
                {"path": frame["path"], "line": int(frame["line"]), "label": frame["label"]}
            )
        elif line.strip() in CHAINED:
            index -= 1
            while index >= 0 and not lines[index].strip():
                index -= 1
            kind, _, message = lines[index].partition(": ") if index >= 0 else ("", "", "")
            earlier: dict[str, Any] = {
                "id": derived_id(exception["id"], f"cause{len(chain)}"),
                "type": kind,
                "message": message,
            }
            if exception.get("remote"):
                earlier["remote"] = True
            current["cause"] = earlier["id"]
            chain.append(earlier)
            current = earlier
        index -= 1
    return chain


def annotations_and_metadata(
    attributes: Attributes, resource: dict[str, Any] | None
) -> dict[str, Any]:
    """Attributes named in aws.xray.annotations become annotations (keys made safe);
    aws.xray.metadata.<namespace> (JSON text) metadata in that namespace; every other
    attribute not read into a field, and a segment's resource attributes as
    otel.resource.<key>, go to metadata["default"] (collector: segment.go,
    makeXRayAttributes)."""
    fields: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    named = attributes.take("aws.xray.annotations")
    annotations = {}
    for key in named if isinstance(named, list) else ():
        value = attributes.peek(str(key))
        if isinstance(value, (str, bool, int, float)):
            attributes.take(str(key))
            annotations[ANNOTATION_KEY_UNSAFE.sub("_", str(key))[:500]] = (
                value[:1000] if isinstance(value, str) else value
            )
    if annotations:
        fields["annotations"] = annotations
    default = {f"otel.resource.{key}": value for key, value in (resource or {}).items()}
    for key, value in attributes.rest().items():
        namespace = key.removeprefix("aws.xray.metadata.")
        if namespace != key and isinstance(value, str):
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                target = default if namespace.lower() == "default" else metadata
                target.update(parsed if target is default else {namespace: parsed})
                continue
        default[key] = value
    if default:
        metadata["default"] = default
    if metadata:
        fields["metadata"] = metadata
    return fields


def links_of(span: Span) -> list[dict[str, Any]]:
    links = []
    for link in span.links:
        try:
            item: dict[str, Any] = {
                "trace_id": xray_trace_id(link.trace_id),
                "id": span_id_of(link.span_id, "link span id"),
            }
        except SpanRejected:
            continue  # a link to nothing X-Ray could show
        if link.attributes:
            item["attributes"] = attributes_of(link.attributes)
        links.append(item)
    return links


def segment_fields(resource: dict[str, Any]) -> dict[str, Any]:
    """origin, aws and service of a segment, from its resource (collector: aws.go, service.go)."""
    fields: dict[str, Any] = {}
    origin = origin_of(resource)
    if origin:
        fields["origin"] = origin
    aws = segment_aws(resource)
    if aws:
        fields["aws"] = aws
    if resource.get("service.version"):
        fields["service"] = {"version": str(resource["service.version"])}
    return fields


def segment_aws(resource: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = {}
    if resource.get("cloud.account.id"):
        block["account_id"] = str(resource["cloud.account.id"])
    if resource.get("cloud.platform") == "aws_lambda" and resource.get("cloud.resource_id"):
        block["function_arn"] = str(resource["cloud.resource_id"])
    language = resource.get("telemetry.sdk.language")
    if language:
        block["xray"] = {
            "sdk": f"opentelemetry for {language}",
            "sdk_version": str(resource.get("telemetry.sdk.version") or ""),
        }
    return block
