"""requests calls as `namespace: remote` subsegments: aws-xray-sdk's requests patcher, recording
through the layer's recorder, with headers written by propagation.http."""

from __future__ import annotations

from lambda_tracing.patches.layer_recorder import point_at_layer
from lambda_tracing.propagation import http


def patch() -> None:
    """Instrument requests (idempotent: aws-xray-sdk's patcher patches a module once)."""
    import aws_xray_sdk.ext.requests.patch as xray_requests
    from aws_xray_sdk.core import patcher

    point_at_layer(xray_requests)
    xray_requests.inject_trace_header = http.inject  # type: ignore[assignment]
    patcher.patch(("requests",))
