"""patches.aws_call against aws-xray-sdk's own botocore processor (`aws_meta_processor`), the
fields the layer's AWS subsegments had before it wrote them itself: for every operation of the
SDK's parameter whitelist, and for generated calls (hypothesis), the two describe the same call
alike, but for what the layer adds on purpose (its module docstring): lists for key views,
no null fields, EventBridge and Kinesis resource names.

The SDK's processor runs on the SDK's own Subsegment, ours on the layer's Span; each call's
params and response hold every whitelisted key (or a random part of them), with a response,
an error answer (ClientError) or another exception."""

from __future__ import annotations

import copy
import json
import sys
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from hypothesis import given, settings
from hypothesis import strategies as st
from lambda_tracing.backend.entities import make_classes
from lambda_tracing.patches import aws_call

Facade, Span = make_classes()
# The SDK's processor module, imported as its patcher imports it (it builds the SDK's recorder).
from aws_xray_sdk.core.models.segment import Segment  # noqa: E402
from aws_xray_sdk.core.models.subsegment import Subsegment  # noqa: E402
from aws_xray_sdk.ext import boto_utils  # noqa: E402

WHITELIST = boto_utils.whitelist["services"]
OPERATIONS = sorted(
    (service, operation)
    for service, entry in WHITELIST.items()
    for operation in entry["operations"]
)


@pytest.fixture(autouse=True)
def fresh_caches_after() -> Iterator[None]:
    yield
    fresh_caches()  # what a test changed is not what the next one reads


def fresh_caches() -> None:
    aws_call.whitelist.cache_clear()
    aws_call._plan.cache_clear()


class _Meta:
    region_name = "eu-west-1"


class _Client:
    meta = _Meta()


def _value_for(descriptor: dict[str, Any] | None, key: str) -> Any:
    if descriptor and descriptor.get("map"):
        return {f"{key}-a": {"x": 1}, f"{key}-b": {"y": 2}}
    if descriptor and descriptor.get("list"):
        return [{"n": 1}, {"n": 2}, {"n": 3}]
    return f"{key}-value"


def _call_data(service: str, operation: str, keep: Any = lambda key: True) -> tuple[dict, dict]:
    entry = WHITELIST[service]["operations"][operation]
    params: dict[str, Any] = {}
    response: dict[str, Any] = {}
    for key in entry.get("request_parameters", ()):
        if keep(key):
            params[key] = _value_for(None, key)
    for key, descriptor in entry.get("request_descriptors", {}).items():
        if keep(key):
            params[key] = _value_for(descriptor, key)
    for key in entry.get("response_parameters", ()):
        if keep(key):
            response[key] = _value_for(None, key)
    for key, descriptor in entry.get("response_descriptors", {}).items():
        if keep(key):
            response[key] = _value_for(descriptor, key)
    return params, response


def _metadata(status: int, request_id: str | None, id_2: str | None) -> dict[str, Any]:
    headers = {"x-amz-id-2": id_2} if id_2 else {}
    return {"RequestId": request_id, "HTTPStatusCode": status, "HTTPHeaders": headers}


def _spans(service: str) -> tuple[Any, Any]:
    segment = Segment("function", traceid="1-5759e988-bd862e3fe1be46a994272793")
    theirs = Subsegment(service, "aws", segment)
    facade = Facade("1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8", True, "")
    ours = Span(service, "aws", facade)
    return theirs, ours


def _both(
    service: str, operation: str, params: dict, outcome: Any, error: BaseException | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    theirs, ours = _spans(service)
    arguments = dict(instance=_Client(), args=(operation, params), kwargs={}, stack=[])
    boto_utils.aws_meta_processor(
        wrapped=None,
        return_value=copy.deepcopy(outcome),
        exception=error,
        subsegment=theirs,
        **arguments,
    )
    aws_call.describe(return_value=outcome, exception=error, subsegment=ours, **arguments)
    return _view(theirs, sdk=True), _view(ours, sdk=False)


def _view(span: Any, sdk: bool) -> dict[str, Any]:
    aws = dict(span.aws)
    if sdk:  # what the layer writes differently on purpose
        aws = {
            key: list(value) if type(value).__name__ == "dict_keys" else value
            for key, value in aws.items()
            if value is not None
        }
    cause = span.cause if isinstance(span.cause, dict) else {}
    return {
        "aws": json.loads(json.dumps(aws)),
        "http": span.http,
        "flags": [getattr(span, flag, False) for flag in ("error", "fault", "throttle")],
        "exceptions": [(e.type, e.remote, e.message) for e in cause.get("exceptions", ())],
    }


@pytest.mark.parametrize(("service", "operation"), OPERATIONS)
def test_every_whitelisted_operation_is_described_as_the_sdk_describes_it(
    service: str, operation: str
) -> None:
    params, response = _call_data(service, operation)
    response["ResponseMetadata"] = _metadata(200, "req-1", "s3-id-2" if service == "s3" else None)
    theirs, ours = _both(service, operation, params, response, None)
    assert ours == theirs
    assert len(ours["aws"]) >= 3  # operation, region, request id, and the whitelisted fields


def test_the_whitelist_the_sdks_processor_uses_is_read_when_loaded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """User code may add parameters to the SDK's whitelist dict, which its processor read."""
    services = copy.deepcopy(boto_utils.whitelist["services"])
    services["dynamodb"]["operations"]["GetItem"]["request_parameters"].append("ConsistentRead")
    monkeypatch.setitem(boto_utils.whitelist, "services", services)
    fresh_caches()
    _, ours = _spans("dynamodb")
    aws_call.describe(
        instance=_Client(),
        args=("GetItem", {"TableName": "orders", "ConsistentRead": True}),
        kwargs={},
        return_value={},
        exception=None,
        subsegment=ours,
        stack=None,
    )
    assert ours.aws == {
        "operation": "GetItem",
        "region": "eu-west-1",
        "table_name": "orders",
        "consistent_read": True,
    }


def test_key_views_are_written_as_lists() -> None:
    params, _ = _call_data("dynamodb", "BatchGetItem")
    theirs, ours = _spans("dynamodb")
    aws_call.describe(
        instance=_Client(),
        args=("BatchGetItem", params),
        kwargs={},
        return_value={},
        exception=None,
        subsegment=ours,
        stack=None,
    )
    assert ours.aws["table_names"] == ["RequestItems-a", "RequestItems-b"]
    assert json.loads(json.dumps(ours.aws))["table_names"] == ["RequestItems-a", "RequestItems-b"]


STATUSES = st.sampled_from([200, 204, 400, 403, 404, 429, 500, 503])


@settings(max_examples=300, deadline=None)
@given(
    call=st.sampled_from(OPERATIONS),
    kept=st.sampled_from(["all", "none"]) | st.integers(0, 2**16),
    outcome=st.sampled_from(["response", "client error", "other error", "empty response"]),
    status=STATUSES,
    request_id=st.none() | st.text("0123456789abcdef-", min_size=1, max_size=36),
    id_2=st.none() | st.text(min_size=1, max_size=20),
)
def test_generated_calls_are_described_as_the_sdk_describes_them(
    call: tuple[str, str], kept: Any, outcome: str, status: int, request_id: Any, id_2: Any
) -> None:
    service, operation = call
    # which whitelisted keys the call carries: all, none, or a part of them that the number
    # picks (crc32, not hash(): the same on every run, so a failure replays)
    if isinstance(kept, int):
        keep = lambda key: zlib.crc32(f"{key}/{kept}".encode()) % 2 == 0  # noqa: E731
    else:
        keep = lambda key: kept == "all"  # noqa: E731
    params, response = _call_data(service, operation, keep)
    metadata = _metadata(status, request_id, id_2)
    error: BaseException | None = None
    answer: Any = None
    if outcome == "response":
        answer = {**response, "ResponseMetadata": metadata}
    elif outcome == "client error":
        error = ClientError(
            {"Error": {"Code": "Oops", "Message": "no"}, "ResponseMetadata": metadata}, operation
        )
    elif outcome == "other error":
        error = EndpointConnectionError(endpoint_url="https://example.invalid")
    else:
        answer = {}
    theirs, ours = _both(service, operation, params, answer, error)
    assert ours == theirs


def test_eventbridge_and_kinesis_calls_name_their_resources_beyond_the_whitelist() -> None:
    _, ours = _spans("events")
    aws_call.describe(
        instance=_Client(),
        args=(
            "PutEvents",
            {"Entries": [{"EventBusName": "arn:aws:events:eu-west-1:1:event-bus/orders"}]},
        ),
        kwargs={},
        return_value={"FailedEntryCount": 0, "Entries": [{"EventId": "e"}]},
        exception=None,
        subsegment=ours,
        stack=None,
    )
    assert ours.aws == {
        "operation": "PutEvents",
        "region": "eu-west-1",
        "entry_count": 1,
        "event_bus_name": "orders",
        "failed_entry_count": 0,
    }


def test_an_unreadable_whitelist_leaves_calls_recorded_with_the_usual_fields(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(aws_call, "WHITELIST", ("no", "such", "file.json"))
    fresh_caches()
    monkeypatch.delitem(sys.modules, "aws_xray_sdk.ext.boto_utils")  # read from the file
    _, ours = _spans("dynamodb")
    aws_call.describe(
        instance=_Client(),
        args=("GetItem", {"TableName": "orders"}),
        kwargs={},
        return_value={"ResponseMetadata": _metadata(200, "r", None)},
        exception=None,
        subsegment=ours,
        stack=None,
    )
    assert ours.aws == {"operation": "GetItem", "region": "eu-west-1", "request_id": "r"}
    assert ours.http == {"response": {"status": 200}}
