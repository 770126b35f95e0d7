"""patches.requests against aws-xray-sdk's own requests patcher, whose subsegments the layer's
were before it wrote them itself: the same name for every URL (the host, or the SDK's
`UNKNOWN HOST`), and the same http block and flags for a response, an error status and an
exception, however the method and url are passed (requests.get passes "get")."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
import requests
from lambda_tracing.backend.entities import make_classes
from lambda_tracing.patches import requests as ours
from lambda_tracing.patches.remote import host_name

Facade, Span = make_classes()
from aws_xray_sdk.core.models.segment import Segment  # noqa: E402
from aws_xray_sdk.core.models.subsegment import Subsegment  # noqa: E402
from aws_xray_sdk.ext import util  # noqa: E402

# importlib: the package attribute `patch` is the function, shadowing the module
sdk_requests = importlib.import_module("aws_xray_sdk.ext.requests.patch")

URLS = [
    "https://example.com/a?b=c",
    "HTTP://Example.COM:8080/x#frag",
    "http://[::1]:8000/v6",
    "http://user:pw@host.internal/p",
    "http://",
    "no-scheme/path",
    "",
    "https://10.0.0.1",
]


@pytest.mark.parametrize("url", URLS)
def test_the_subsegment_is_named_as_the_sdk_names_it(url: str) -> None:
    assert host_name(url) == util.get_hostname(url)


def _response(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    return response


@pytest.mark.parametrize("url", [u for u in URLS if u])
@pytest.mark.parametrize("outcome", [200, 404, 429, 503, "exception"])
@pytest.mark.parametrize("by_keyword", [False, True])
def test_a_call_is_described_as_the_sdk_describes_it(
    url: str, outcome: Any, by_keyword: bool
) -> None:
    segment = Segment("function", traceid="1-5759e988-bd862e3fe1be46a994272793")
    theirs = Subsegment("host", "remote", segment)
    facade = Facade("1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8", True, "")
    span = Span("host", "remote", facade)
    # a new exception each time: the SDK marks one it has recorded
    error = OSError("reset") if outcome == "exception" else None
    answer = None if error else _response(outcome)
    args, kwargs = ((), {"method": "get", "url": url}) if by_keyword else (("get", url), {})
    common = dict(wrapped=None, instance=None, return_value=answer, exception=error, stack=[])
    # The SDK is handed the method as requests would pass it on (the layer upper-cases it).
    sdk_args = ((), {"method": "GET", "url": url}) if by_keyword else (("GET", url), {})
    sdk_requests.requests_processor(
        args=sdk_args[0], kwargs=sdk_args[1], subsegment=theirs, **common
    )
    ours.describe(args=args, kwargs=kwargs, subsegment=span, **common)
    for attribute in ("http", "error", "fault", "throttle"):
        assert getattr(span, attribute, False) == getattr(theirs, attribute, False), attribute
    assert [e.type for e in span.cause.get("exceptions", ())] == [
        e.type for e in theirs.cause.get("exceptions", ())
    ]
