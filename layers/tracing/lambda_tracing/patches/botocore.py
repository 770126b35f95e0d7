"""AWS calls as `namespace: aws` subsegments: aws-xray-sdk's botocore patcher, plus what it lacks.

Added to the SDK's patcher: it records through the layer's recorder; calls to X-Ray's own API are
never traced; resource names its parameter whitelist has no entry for (EventBridge bus, Kinesis
stream, shard and sequence number) are recorded; trace headers are written by propagation.http
(256-character limit, Sampled=0, W3C) and trace context goes into messages through botocore
`before-parameter-build` handlers (propagation.aws), registered on each client's event emitter on
its first call, so clients created before patching (module-level, at import) get them too.

All of that is applied on botocore's first API call (patches.hooks.on_first_call): a function that
imports boto3 at init loads none of aws-xray-sdk until it makes a call.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from lambda_tracing.patches.hooks import on_first_call, when_imported
from lambda_tracing.patches.layer_recorder import point_at_layer, untraced

log = logging.getLogger(__name__)

_PATCHED = "_lambda_tracing_patched"
SDK_MODULE = "aws_xray_sdk.ext.botocore.patch"
_HANDLERS_REGISTERED = "_lambda_tracing_handlers"
DEFAULT_EVENT_BUS = "default"
MAX_RECORDED_RECORDS = 50


def patch() -> None:
    """Instrument botocore (idempotent): aws-xray-sdk is loaded and applied on the first call."""
    import botocore.client

    if getattr(botocore.client, _PATCHED, False):
        return
    setattr(botocore.client, _PATCHED, True)
    on_first_call(botocore.client.BaseClient, ("_make_api_call",), _patch_now)
    # Should the SDK patch botocore itself first (patch_all, run by Powertools' Tracer), its
    # patch module records through the layer from its first call.
    when_imported(SDK_MODULE, prepare_sdk_module)


def _patch_now() -> None:
    # importlib: the package attribute `patch` is the function, shadowing the module
    xray_botocore = importlib.import_module(SDK_MODULE)
    import wrapt
    from aws_xray_sdk.core import patcher

    prepare_sdk_module(xray_botocore)
    patcher.patch(("botocore",))
    # The layer applied the SDK's wrapper: its frame is the layer's, not in the user's traces.
    from lambda_tracing.stacks import treat_as_ours

    treat_as_ours(xray_botocore.__file__ or "")
    # Applied after the SDK's wrapper, so it runs first and can step around it.
    wrapt.wrap_function_wrapper("botocore.client", "BaseClient._make_api_call", _around_api_call)


def prepare_sdk_module(xray_botocore: ModuleType) -> None:
    """Make aws-xray-sdk's botocore patch module record through the layer, with the resource
    names its processor lacks (idempotent)."""
    boto_utils = importlib.import_module("aws_xray_sdk.ext.boto_utils")
    point_at_layer(xray_botocore)
    point_at_layer(boto_utils)
    processor = _with_resource_names(xray_botocore.aws_meta_processor)  # type: ignore[attr-defined]
    xray_botocore.aws_meta_processor = processor  # type: ignore[attr-defined]


def _around_api_call(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    try:
        to_xray = instance._service_model.endpoint_prefix == "xray"
        events = instance.meta.events
        if not to_xray and not getattr(events, _HANDLERS_REGISTERED, False):
            _register_propagation(events)
    except Exception:
        log.debug("botocore call not instrumented", exc_info=True)
        to_xray = False
    if to_xray:
        with untraced():  # nor by the urllib3 patch underneath
            return _without_sdk_wrapper(wrapped)(*args, **kwargs)
    return wrapped(*args, **kwargs)


def _without_sdk_wrapper(wrapped: Any) -> Any:
    """The call under aws-xray-sdk's wrapper, if there is one (there is not when the SDK is
    disabled); botocore's own decorated method also has a `__wrapped__`, which must stay."""
    import wrapt

    return wrapped.__wrapped__ if isinstance(wrapped, wrapt.BoundFunctionWrapper) else wrapped


def _register_propagation(events: Any) -> None:
    try:
        from lambda_tracing.propagation import aws

        for event_name, handler in aws.HANDLERS:
            events.register(event_name, handler, unique_id=f"lambda_tracing:{event_name}")
        setattr(events, _HANDLERS_REGISTERED, True)
    except Exception:
        log.debug("trace propagation handlers not registered", exc_info=True)


def _with_resource_names(original: Callable[..., None]) -> Callable[..., None]:
    if getattr(original, "adds_resource_names", False):
        return original

    def processor(
        wrapped: Any,
        instance: Any,
        args: Any,
        kwargs: Any,
        return_value: Any,
        exception: BaseException | None,
        subsegment: Any,
        stack: Any,
    ) -> None:
        original(
            wrapped=wrapped,
            instance=instance,
            args=args,
            kwargs=kwargs,
            return_value=return_value,
            exception=exception,
            subsegment=subsegment,
            stack=stack,
        )
        if not getattr(subsegment, "sampled", False):
            return
        aws = getattr(subsegment, "aws", None)
        if isinstance(aws, dict) and None in aws.values():
            # A failed call without a response (an error before it, a stubbed error) has no
            # request id: X-Ray's schema takes a string or nothing, never null.
            for key in [key for key, value in aws.items() if value is None]:
                del aws[key]
        try:
            operation = kwargs.get("operation_name") or args[0]
            params = kwargs.get("api_params") or (args[1] if len(args) > 1 else {})
            names = resource_names(subsegment.name, operation, params, return_value)
            if names and isinstance(subsegment.aws, dict):
                subsegment.aws.update(names)
        except Exception:
            log.debug("resource names not recorded", exc_info=True)

    processor.adds_resource_names = True  # type: ignore[attr-defined]
    return processor


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
