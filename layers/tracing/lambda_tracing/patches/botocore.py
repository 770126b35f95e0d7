"""AWS calls as `namespace: aws` subsegments, recorded by the layer itself.

botocore's `BaseClient._make_api_call` and `Endpoint.prepare_request` are wrapped with plain
functions when botocore is imported. A call is recorded through the layer's recorder and
described by patches.aws_call (aws-xray-sdk's fields and parameter whitelist, and what that
lacks); none of the SDK's recorder, patcher or wrapt is loaded, so a function's first AWS call
costs what the next ones do. (With the SDK's patcher, applied on the first call, that call cost
about 11 ms more on CPython 3.13 as Lambda runs it: benchmarks/README.md.)

Calls to X-Ray's own API are never traced, nor by the urllib3 patch underneath. Trace headers are
written by propagation.http (256-character limit, Sampled=0, W3C) on the request botocore
prepares; trace context goes into messages through botocore `before-parameter-build` handlers
(propagation.aws), registered on each client's event emitter on its first call, so clients
created before patching (module-level, at import) get them too.

Should aws-xray-sdk patch botocore as well (patch_all, run by Powertools' Tracer), its wrapper
passes calls through to ours, whichever of the two is outermost: one subsegment per call.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType
from typing import Any

from lambda_tracing.patches.aws_call import describe
from lambda_tracing.patches.hooks import when_imported, wrap_method
from lambda_tracing.patches.layer_recorder import (
    LAYER_RECORDER,
    PASS_THROUGH,
    pass_through,
    point_at_layer,
    untraced,
)
from lambda_tracing.propagation import http

log = logging.getLogger(__name__)

_PATCHED = "_lambda_tracing_patched"
SDK_MODULE = "aws_xray_sdk.ext.botocore.patch"
_HANDLERS_REGISTERED = "_lambda_tracing_handlers"
# The SDK's own sampling pollers' requests: never given a trace header.
_SAMPLING_REQUESTS = ("GetCentralizedSamplingRules", "SamplingTargets")


def patch() -> None:
    """Instrument botocore (idempotent)."""
    import botocore.client
    import botocore.endpoint

    if getattr(botocore.client, _PATCHED, False):
        return
    setattr(botocore.client, _PATCHED, True)  # first: a failure half-way never wraps twice
    wrap_method(botocore.client.BaseClient, "_make_api_call", _recorded_call)
    wrap_method(botocore.endpoint.Endpoint, "prepare_request", _with_trace_header)
    when_imported(SDK_MODULE, prepare_sdk_module)


def _recorded_call(call: Any, client: Any, args: Any, kwargs: Any) -> Any:
    # The call itself is made outside any `try` of ours: its exception is the caller's, as is.
    service = None
    try:
        service = client._service_model.endpoint_prefix
        events = client.meta.events
        if service != "xray" and not getattr(events, _HANDLERS_REGISTERED, False):
            _register_propagation(events)
    except Exception:  # noqa: BLE001
        log.debug("botocore call not instrumented", exc_info=True)
    if service is None or type(service) is not str:
        return call(*args, **kwargs)
    if service == "xray":
        with untraced():
            return call(*args, **kwargs)
    return LAYER_RECORDER.record_subsegment(
        call, client, args, kwargs, name=service, namespace="aws", meta_processor=describe
    )


def _with_trace_header(call: Any, endpoint: Any, args: Any, kwargs: Any) -> Any:
    """Endpoint.prepare_request, after the trace headers of the call's subsegment (or of the
    trace, unsampled) are put on the request. They replace the header botocore copies from
    Lambda's environment, which names the function's segment as the parent."""
    try:
        request = args[0] if args else kwargs["request"]
        url = str(request.url)
        if not any(marker in url for marker in _SAMPLING_REQUESTS):
            http.inject(request.headers, LAYER_RECORDER.current_subsegment())
    except Exception:  # noqa: BLE001
        log.debug("trace header not added to a botocore request", exc_info=True)
    return call(*args, **kwargs)


def _register_propagation(events: Any) -> None:
    try:
        from lambda_tracing.propagation import aws

        for event_name, handler in aws.HANDLERS:
            events.register(event_name, handler, unique_id=f"lambda_tracing:{event_name}")
        setattr(events, _HANDLERS_REGISTERED, True)
    except Exception:
        log.debug("trace propagation handlers not registered", exc_info=True)


def prepare_sdk_module(xray_botocore: ModuleType) -> None:
    """Make aws-xray-sdk's botocore patch module, should anything load and apply it, leave
    calls and headers to the layer's wrappers (idempotent). Its wrapper functions are replaced
    before its patch() takes them; should it have wrapped already, its recorder passes calls
    through and its header wrapper writes what ours wrote, through propagation.http."""
    point_at_layer(importlib.import_module("aws_xray_sdk.ext.boto_utils"))
    point_at_layer(xray_botocore)
    xray_botocore.xray_recorder = PASS_THROUGH  # type: ignore[attr-defined]
    xray_botocore.aws_meta_processor = describe  # type: ignore[attr-defined]
    xray_botocore._xray_traced_botocore = pass_through  # type: ignore[attr-defined]
    xray_botocore.inject_header = pass_through  # type: ignore[attr-defined]
