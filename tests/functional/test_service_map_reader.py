"""Reading GetServiceGraph through boto3's paginator, checked by botocore's Stubber, and
botocore's adaptive retries against throttling at the HTTP layer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.stub import Stubber
from service_map.errors import GraphReadError
from service_map.reader import read_graph
from service_map.summary import summarise
from service_map.synthetic import generate_responses

FIXTURES = Path(__file__).parents[1] / "fixtures" / "xray"
START = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def xray(max_attempts: int = 5) -> Any:
    return boto3.client(
        "xray",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "adaptive", "total_max_attempts": max_attempts}),
    )


def with_tokens(pages: list[dict], chunk: int) -> list[dict]:
    """Link the pages of one response with NextTokens, as the API does."""
    linked = [dict(page) for page in pages]
    for number, page in enumerate(linked[:-1]):
        page["NextToken"] = f"chunk{chunk}-page{number + 1}"
    return linked


def test_reads_every_page_of_every_chunk_in_order() -> None:
    client = xray()
    responses = generate_responses(
        30, 90, chunks=3, page_size=12, start=START, chunk_length=timedelta(hours=2)
    )
    expected = []
    with Stubber(client) as stub:
        for chunk, pages in enumerate(responses):
            begin = START + chunk * timedelta(hours=2)
            token = None
            for page in with_tokens(pages, chunk):
                params = {
                    "StartTime": begin,
                    "EndTime": begin + timedelta(hours=2),
                    "GroupName": "payments",
                }
                if token:
                    params["NextToken"] = token
                stub.add_response("get_service_graph", page, params)
                token = page.get("NextToken")
                expected.append(page)
        pages = read_graph(
            client, START, START + timedelta(hours=6), "payments", chunk=timedelta(hours=2)
        )
        stub.assert_no_pending_responses()
    assert len(pages) == 9 and len(expected) == 9
    summary = summarise(pages)
    assert len(summary["nodes"]) == 30 and len(summary["edges"]) == 90
    assert "ResponseMetadata" not in pages[0]


def test_a_failing_call_keeps_the_pages_read_before_it() -> None:
    client = xray()
    page = json.loads((FIXTURES / "get-service-graph.awsdocs.json").read_text())
    with Stubber(client) as stub:
        stub.add_response("get_service_graph", page)
        stub.add_client_error("get_service_graph", "ThrottledException", http_status_code=429)
        with pytest.raises(GraphReadError) as caught:
            read_graph(client, START, START + timedelta(hours=12), "Default")
    assert len(caught.value.pages) == 1
    assert "ThrottledException" in str(caught.value) and "Default" in str(caught.value)


class Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        yield self.data


def throttle_first(times: int, page: dict, calls: list) -> Any:
    """A before-send hook: the first ``times`` HTTP calls get X-Ray's ThrottledException,
    the rest the page, so botocore's own retry logic decides what happens."""

    def send(request: Any, **_: Any) -> AWSResponse:
        calls.append(request.url)
        if len(calls) <= times:
            headers = {"x-amzn-ErrorType": "ThrottledException"}
            return AWSResponse(request.url, 429, headers, Body(b'{"Message":"Rate exceeded"}'))
        headers = {"Content-Type": "application/json"}
        return AWSResponse(request.url, 200, headers, Body(json.dumps(page).encode()))

    return send


def test_throttled_calls_are_retried_by_adaptive_mode() -> None:
    client = xray(max_attempts=5)
    page = json.loads((FIXTURES / "get-service-graph.awsdocs.json").read_text())
    calls: list = []
    client.meta.events.register("before-send.xray.GetServiceGraph", throttle_first(2, page, calls))
    pages = read_graph(client, START, START + timedelta(minutes=5), "Default")
    assert len(calls) == 3  # two throttled, the third answered
    assert [s["Name"] for s in pages[0]["Services"]] == [s["Name"] for s in page["Services"]]


def test_throttling_beyond_the_retries_fails_the_read() -> None:
    client = xray(max_attempts=2)
    calls: list = []
    client.meta.events.register("before-send.xray.GetServiceGraph", throttle_first(99, {}, calls))
    with pytest.raises(GraphReadError, match="ThrottledException"):
        read_graph(client, START, START + timedelta(minutes=5), "Default")
    assert len(calls) == 2


def test_a_next_token_that_comes_back_stops_the_read() -> None:
    """botocore catches a token repeated at once; a cycle A, B, A would be read, and its
    pages counted again, until the function timed out."""
    client = xray()
    page = json.loads((FIXTURES / "get-service-graph.awsdocs.json").read_text())
    with Stubber(client) as stub:
        for token in ("A", "B", "A"):
            stub.add_response("get_service_graph", dict(page, NextToken=token))
        with pytest.raises(GraphReadError, match="NextToken 'A' a second time") as failure:
            read_graph(client, START, START + timedelta(minutes=5), "Default")
    assert len(failure.value.pages) == 3  # each page read once, kept for the partial summary
