"""What a recorded AWS call's subsegment says: the `aws` block, the HTTP status and, for an
error AWS answered, the exception. The same fields as aws-xray-sdk's botocore processor writes,
from the same parameter whitelist (read once, and made ready per service and operation on its
first call), with what that whitelist lacks:

- resource names for EventBridge (bus) and Kinesis (stream, shard and sequence numbers, which
  the consumer's links name);
- `table_names` and the like as lists, where the SDK's processor leaves `dict.keys()` views
  (which its JSON fallback writes as the text "dict_keys([...])");
- no null `request_id` (X-Ray's schema takes a string or nothing) for a failed call without
  a response.

Nothing of the SDK's recorder or patcher is loaded.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

WHITELIST = ("ext", "resources", "aws_para_whitelist.json")  # under the aws_xray_sdk package
DEFAULT_EVENT_BUS = "default"
MAX_RECORDED_RECORDS = 50
_STATUS = "status"
_first_cap = re.compile("(.)([A-Z][a-z]+)")
_all_cap = re.compile("([a-z0-9])([A-Z])")

Field = tuple[str, str, bool, bool]  # the param's key, its aws name, take its length, its keys


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
        metadata = return_value.get("ResponseMetadata")
        if metadata:
            _response_fields(span, metadata, aws)
            headers = metadata.get("HTTPHeaders")
            if headers and headers.get("x-amz-id-2"):  # S3's second request id
                aws["id_2"] = headers["x-amz-id-2"]
    elif exception is not None and _is_client_error(exception):
        response = getattr(exception, "response", None)
        metadata = response.get("ResponseMetadata") if isinstance(response, Mapping) else None
        if metadata:
            _response_fields(span, metadata, aws)
            span.add_exception(exception, stack, True)
    service = span.name
    request_fields, response_fields = _plan(service, operation)
    _copy(request_fields, params, aws)
    if return_value:
        _copy(response_fields, return_value, aws)
    if service == "events" or service == "kinesis":
        try:
            aws.update(resource_names(service, operation, params, return_value))
        except Exception:  # noqa: BLE001 - a field left out beats a call left unrecorded
            log.debug("resource names not recorded", exc_info=True)
    if None in aws.values():  # X-Ray's schema takes a string or nothing, never null
        aws = {key: value for key, value in aws.items() if value is not None}
    span.set_aws(aws)


def _response_fields(span: Any, metadata: Any, aws: dict[str, Any]) -> None:
    request_id = metadata.get("RequestId")
    if request_id is not None:
        aws["request_id"] = request_id
    span.put_http_meta(_STATUS, metadata.get("HTTPStatusCode"))


def _is_client_error(exception: BaseException) -> bool:
    exceptions = sys.modules.get("botocore.exceptions")
    return exceptions is not None and isinstance(exception, exceptions.ClientError)


def _copy(fields: tuple[Field, ...], source: Any, aws: dict[str, Any]) -> None:
    for key, name, count, keys in fields:
        if key in source:
            value = source[key]
            if count:
                value = len(value)
            if keys:
                value = list(value.keys())
            aws[name] = value


@functools.cache
def _plan(service: str, operation: str) -> tuple[tuple[Field, ...], tuple[Field, ...]]:
    """The whitelist's entry for one service and operation, made ready once: the request's
    and the response's fields to copy, parameters (under their snake-case names) first, then
    descriptors (count, keys, rename), in the SDK's order."""
    entry = (whitelist().get(service) or {}).get("operations", {}).get(operation)
    if not isinstance(entry, Mapping):
        return (), ()
    return _fields(entry, "request"), _fields(entry, "response")


def _fields(entry: Mapping[str, Any], side: str) -> tuple[Field, ...]:
    plain = [(key, snake_case(key), False, False) for key in entry.get(f"{side}_parameters") or ()]
    described = [
        (key, d["rename_to"], bool(d.get("get_count")), bool(d.get("get_keys")))
        for key, d in (entry.get(f"{side}_descriptors") or {}).items()
    ]
    return tuple(plain + described)


def snake_case(name: str) -> str:
    """`TableName` -> `table_name`, `SSEKMSKeyId` -> `ssekms_key_id`, as the SDK's
    `ext.util.to_snake_case` names them (that module imports wrapt: not on this path)."""
    return _all_cap.sub(r"\1_\2", _first_cap.sub(r"\1_\2", name)).lower()


@functools.cache
def whitelist() -> dict[str, Any]:
    """The SDK's whitelist, by service (read once; empty, and logged, if it cannot be read):
    the dict its botocore processor uses if that module is loaded (user code may have added to
    it), else its data file (importing that module would build the SDK's global recorder)."""
    loaded = sys.modules.get("aws_xray_sdk.ext.boto_utils")
    if loaded is not None and isinstance(getattr(loaded, "whitelist", None), dict):
        return loaded.whitelist.get("services") or {}
    try:
        import aws_xray_sdk

        path = os.path.join(os.path.dirname(aws_xray_sdk.__file__ or ""), *WHITELIST)
        with open(path, encoding="utf-8") as file:
            return dict(json.load(file)["services"])
    except Exception:  # noqa: BLE001 - the calls are still recorded, with fewer fields
        log.warning("lambda_tracing: AWS parameter whitelist not read", exc_info=True)
        return {}


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
