"""requests calls as `namespace: remote` subsegments: aws-xray-sdk's requests patcher, recording
through the layer's recorder, with headers written by propagation.http."""

from __future__ import annotations

import importlib

from lambda_tracing.patches.layer_recorder import point_at_layer


def patch() -> None:
    """Instrument requests (idempotent: aws-xray-sdk's patcher patches a module once)."""
    # importlib: the package attribute `patch` is the function, shadowing the module
    xray_requests = importlib.import_module("aws_xray_sdk.ext.requests.patch")
    from aws_xray_sdk.core import patcher

    point_at_layer(xray_requests)
    patcher.patch(("requests",))
