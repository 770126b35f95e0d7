"""requests calls as `namespace: remote` subsegments: aws-xray-sdk's requests patcher, recording
through the layer's recorder, with headers written by propagation.http and the method recorded
upper-case (`requests.get` passes "get"), as X-Ray expects it. Applied on the first call, so a
function that imports requests at init loads none of aws-xray-sdk until it makes a request."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from lambda_tracing.patches.hooks import on_first_call
from lambda_tracing.patches.layer_recorder import point_at_layer

_PATCHED = "_lambda_tracing_patched"


def patch() -> None:
    """Instrument requests (idempotent): aws-xray-sdk is loaded and applied on the first call
    of `Session.request` or `Session.prepare_request` (the two methods its patcher wraps)."""
    import requests

    if getattr(requests, _PATCHED, False):
        return
    setattr(requests, _PATCHED, True)
    on_first_call(requests.Session, ("request", "prepare_request"), _patch_now)


def _patch_now() -> None:
    from aws_xray_sdk.core import patcher

    # importlib: the package attribute `patch` is the function, shadowing the module
    xray_requests = importlib.import_module("aws_xray_sdk.ext.requests.patch")
    point_at_layer(xray_requests)
    processor = _upper_case_method(xray_requests.requests_processor)  # type: ignore[attr-defined]
    xray_requests.requests_processor = processor  # type: ignore[attr-defined]
    patcher.patch(("requests",))


def _upper_case_method(original: Callable[..., None]) -> Callable[..., None]:
    if getattr(original, "upper_cases_method", False):
        return original

    def processor(**kwargs: Any) -> None:
        original(**kwargs)
        subsegment = kwargs["subsegment"]
        request = getattr(subsegment, "http", {}).get("request") or {}
        if isinstance(request.get("method"), str):
            request["method"] = request["method"].upper()

    processor.upper_cases_method = True  # type: ignore[attr-defined]
    return processor
