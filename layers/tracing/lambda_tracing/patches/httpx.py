"""httpx calls (Client and AsyncClient) as `namespace: remote` subsegments: aws-xray-sdk's httpx
patcher, recording through the layer's recorder, with headers written by propagation.http.

The SDK's patcher swaps `httpx.Client`/`httpx.AsyncClient` for instrumented subclasses, so it must
run before user code takes references to them: patches/__init__ patches when httpx is imported.
"""

from __future__ import annotations

import importlib

from lambda_tracing.patches.layer_recorder import point_at_layer
from lambda_tracing.propagation import http


def patch() -> None:
    """Instrument httpx (idempotent: aws-xray-sdk's patcher patches a module once)."""
    # importlib: the package attribute `patch` is the function, shadowing the module
    xray_httpx = importlib.import_module("aws_xray_sdk.ext.httpx.patch")
    from aws_xray_sdk.core import patcher

    point_at_layer(xray_httpx)
    # A trace header the caller set on the request stands, as in the requests and urllib3
    # patches (the SDK's always overwrites it).
    xray_httpx.inject_trace_header = http.inject_unless_present  # type: ignore[attr-defined]
    patcher.patch(("httpx",))
