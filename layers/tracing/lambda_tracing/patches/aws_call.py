"""What a recorded AWS call's subsegment says: the `aws` block, the HTTP status and, for an
error AWS answered, the exception. The same fields as aws-xray-sdk's botocore processor writes,
from the same parameter whitelist (read from the SDK's own data file, once, on the first call
of a service and operation, and kept as a plan per pair), with what that whitelist lacks:

- resource names for EventBridge (bus) and Kinesis (stream, shard and sequence numbers, which
  the consumer's links name);
- `table_names` and the like as lists, where the SDK's processor leaves `dict.keys()` views
  (which its JSON fallback writes as the text "dict_keys([...])");
- no null `request_id` (X-Ray's schema takes a string or nothing) for a failed call without
  a response.

Nothing of the SDK's recorder or patcher is loaded.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

WHITELIST = ("ext", "resources", "aws_para_whitelist.json")  # under the aws_xray_sdk package
DEFAULT_EVENT_BUS = "default"
MAX_RECORDED_RECORDS = 50
_STATUS = "status"
_first_cap = re.compile("(.)([A-Z][a-z]+)")
_all_cap = re.compile("([a-z0-9])([A-Z])")

_services: dict[str, Any] | None = None
_plans: dict[tuple[str, str], _Plan | None] = {}
_lock = threading.Lock()
_UNKNOWN: Any = object()


def describe(
    *,
    wrapped: Any = None,
    instance: Any,
    args: Any,
    kwargs: Any,
    return_value: Any,
    exception: BaseException | None,
    subsegment: Any,
    stack: Any,
) -> None:
    """Describe `subsegment`, the span of `instance._make_api_call(*args, **kwargs)` (a
    meta_processor, as backend.recorder calls them)."""
    span = subsegment
    if not getattr(span, "sampled", False):
        return
    operation = kwargs.get("operation_name") or args[0]
    params = kwargs.get("api_params") or (args[1] if len(args) > 1 else {})
    aws: dict[str, Any] = {"operation": operation, "region": instance.meta.region_name}
    if return_value:
        _response_fields(span, return_value.get("ResponseMetadata"), aws)
    elif exception is not None and _is_client_error(exception):
        response = getattr(exception, "response", None)
        metadata = response.get("ResponseMetadata") if isinstance(response, Mapping) else None
        if metadata:
            request_id = metadata.get("RequestId")
            if request_id is not None:
                aws["request_id"] = request_id
            span.put_http_meta(_STATUS, metadata.get("HTTPStatusCode"))
            span.add_exception(exception, stack, True)
    service = span.name
    plan = _plans.get((service, operation), _UNKNOWN)
    if plan is _UNKNOWN:
        plan = _plan_for(service, operation)
    if plan is not None:
        plan.record(params, return_value, aws)
    if service == "events" or service == "kinesis":
        try:
            aws.update(resource_names(service, operation, params, return_value))
        except Exception:  # noqa: BLE001 - a field left out beats a call left unrecorded
            log.debug("resource names not recorded", exc_info=True)
    if None in aws.values():  # X-Ray's schema takes a string or nothing, never null
        aws = {key: value for key, value in aws.items() if value is not None}
    span.set_aws(aws)


def _response_fields(span: Any, metadata: Any, aws: dict[str, Any]) -> None:
    if not metadata:
        return
    request_id = metadata.get("RequestId")
    if request_id is not None:
        aws["request_id"] = request_id
    span.put_http_meta(_STATUS, metadata.get("HTTPStatusCode"))
    headers = metadata.get("HTTPHeaders")
    if headers and headers.get("x-amz-id-2"):  # S3's second request id
        aws["id_2"] = headers["x-amz-id-2"]


def _is_client_error(exception: BaseException) -> bool:
    exceptions = sys.modules.get("botocore.exceptions")
    return exceptions is not None and isinstance(exception, exceptions.ClientError)


class _Plan:
    """A whitelist entry made ready for one service and operation: the parameters to copy,
    under their snake-case names, and the descriptors to apply (count, keys, rename)."""

    __slots__ = ("request", "request_described", "response", "response_described")

    def __init__(self, entry: Mapping[str, Any]) -> None:
        self.request = _renamed(entry.get("request_parameters"))
        self.request_described = _described(entry.get("request_descriptors"))
        self.response = _renamed(entry.get("response_parameters"))
        self.response_described = _described(entry.get("response_descriptors"))

    def record(self, params: Any, response: Any, aws: dict[str, Any]) -> None:
        for key, name in self.request:
            if key in params:
                aws[name] = params[key]
        for key, name, count, keys in self.request_described:
            if key in params:
                aws[name] = _described_value(params[key], count, keys)
        if not response:
            return
        for key, name in self.response:
            if key in response:
                aws[name] = response[key]
        for key, name, count, keys in self.response_described:
            if key in response:
                aws[name] = _described_value(response[key], count, keys)


def _described_value(value: Any, count: bool, keys: bool) -> Any:
    if count:
        value = len(value)
    if keys:
        value = list(value.keys())
    return value


def _renamed(names: Any) -> tuple[tuple[str, str], ...]:
    return tuple((key, snake_case(key)) for key in names or ())


def _described(descriptors: Any) -> tuple[tuple[str, str, bool, bool], ...]:
    return tuple(
        (key, d["rename_to"], bool(d.get("get_count")), bool(d.get("get_keys")))
        for key, d in (descriptors or {}).items()
    )


def snake_case(name: str) -> str:
    """`TableName` -> `table_name`, `SSEKMSKeyId` -> `ssekms_key_id`, as the SDK names them."""
    return _all_cap.sub(r"\1_\2", _first_cap.sub(r"\1_\2", name)).lower()


def _plan_for(service: str, operation: str) -> _Plan | None:
    with _lock:
        if (service, operation) not in _plans:
            entry = (whitelist().get(service) or {}).get("operations", {}).get(operation)
            _plans[(service, operation)] = _Plan(entry) if isinstance(entry, Mapping) else None
        return _plans[(service, operation)]


def whitelist() -> dict[str, Any]:
    """The SDK's whitelist, by service (read once; empty, and logged, if it cannot be read):
    the one its botocore processor uses if that is loaded (user code may have added to it),
    else its data file."""
    global _services
    if _services is None:
        loaded = sys.modules.get("aws_xray_sdk.ext.boto_utils")
        if loaded is not None and isinstance(getattr(loaded, "whitelist", None), dict):
            _services = loaded.whitelist.get("services") or {}
            return _services
        try:
            import aws_xray_sdk

            path = os.path.join(os.path.dirname(aws_xray_sdk.__file__ or ""), *WHITELIST)
            with open(path, encoding="utf-8") as file:
                _services = dict(json.load(file)["services"])
        except Exception:  # noqa: BLE001 - the calls are still recorded, with fewer fields
            log.warning("lambda_tracing: AWS parameter whitelist not read", exc_info=True)
            _services = {}
    return _services


def resource_names(
    service: str, operation: str, params: Mapping[str, Any], response: Any
) -> dict[str, Any]:
    """`aws` fields naming the resource, for services aws-xray-sdk's whitelist leaves out."""
    response = response if isinstance(response, Mapping) else {}
    if service == "events" and operation == "PutEvents":
        entries = [e for e in params.get("Entries") or () if isinstance(e, Mapping)]
        buses = sorted({_last_part(e.get("EventBusName") or DEFAULT_EVENT_BUS) for e in entries})
        names: dict[str, Any] = {"entry_count": len(entries)}
        if len(buses) == 1:
            names["event_bus_name"] = buses[0]
        elif buses:
            names["event_bus_names"] = buses
        if "FailedEntryCount" in response:
            names["failed_entry_count"] = response["FailedEntryCount"]
        return names
    if service == "kinesis":
        stream = params.get("StreamName") or _last_part(params.get("StreamARN") or "")
        names = {"stream_name": stream} if stream else {}
        if operation == "PutRecord":
            names.update(_present(response, shard_id="ShardId", sequence_number="SequenceNumber"))
        elif operation == "PutRecords":
            names["record_count"] = len(params.get("Records") or ())
            names.update(_present(response, failed_record_count="FailedRecordCount"))
            written = [r for r in response.get("Records") or () if "SequenceNumber" in r]
            names["records"] = [  # what Kinesis consumers' links name (bounded: UDP datagrams)
                {"shard_id": r.get("ShardId"), "sequence_number": r["SequenceNumber"]}
                for r in written[:MAX_RECORDED_RECORDS]
            ]
        return names
    return {}


def _last_part(name_or_arn: str) -> str:
    return str(name_or_arn).rsplit("/", 1)[-1]


def _present(response: Mapping[str, Any], **fields: str) -> dict[str, Any]:
    return {name: response[key] for name, key in fields.items() if key in response}
