"""patches.httpx against aws-xray-sdk's own httpx transport, whose subsegments the layer's were
before it wrapped httpx itself: the same name, http block and flags for the same request (URLs
with credentials, queries, fragments, ports, no host), and a trace header naming the span."""

from __future__ import annotations

import importlib
from typing import Any

import httpx
import pytest
from aws_xray_sdk.core.models.segment import Segment
from lambda_tracing.backend.entities import make_classes
from lambda_tracing.patches import httpx as ours
from lambda_tracing.patches.remote import host_name

Facade, Span = make_classes()
# importlib: the package attribute `patch` is the function, shadowing the module
sdk_httpx = importlib.import_module("aws_xray_sdk.ext.httpx.patch")
TRACE = "1-5759e988-bd862e3fe1be46a994272793"

URLS = [
    "https://user:secret@example.com:8443/a/b?q=1#frag",
    "http://svc.internal/items?x=y",
    "http://[::1]:8000/v6",
    "https://10.0.0.1/",
]


class _Recorder:
    """What the SDK's transport asks of its recorder: a span to write into, per request."""

    def __init__(self, segment: Any) -> None:
        self.segment = segment

    def in_subsegment(self, name: str, namespace: str) -> Any:
        return self.segment.subsegment_for(name, namespace)


class _Segment(Segment):  # type: ignore[misc]
    def subsegment_for(self, name: str, namespace: str) -> Any:
        from contextlib import contextmanager

        from aws_xray_sdk.core.models.subsegment import Subsegment

        @contextmanager
        def scope() -> Any:
            subsegment = Subsegment(name, namespace, self)
            self.made = subsegment
            yield subsegment

        return scope()


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("status", [200, 404, 429, 503])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_request_is_described_as_the_sdks_transport_describes_it(
    url: str, status: int, method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = httpx.MockTransport(lambda request: httpx.Response(status))
    segment = _Segment("function", traceid=TRACE)
    monkeypatch.setattr(sdk_httpx, "xray_recorder", _Recorder(segment))
    sdk_request = httpx.Request(method, url)
    sdk_httpx.SyncInstrumentedTransport(answer).handle_request(sdk_request)
    theirs = segment.made

    facade = Facade(TRACE, "53995c3f42cd8ad8", True, "")
    span = Span(host_name(url), "remote", facade)
    request = httpx.Request(method, url)
    ours._request_fields(span, request)
    ours._response_fields(span, answer.handle_request(request))

    assert span.name == theirs.name
    for attribute in ("http", "error", "fault", "throttle"):
        assert getattr(span, attribute, False) == getattr(theirs, attribute, False), attribute
    assert f"Parent={span.id};" in request.headers["x-amzn-trace-id"]
    assert f"Parent={theirs.id};" in sdk_request.headers["x-amzn-trace-id"]
