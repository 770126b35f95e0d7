"""HTTP calls through the patched requests, httpx (sync and async) and urllib3 against a real
local HTTP server: each call is a schema-valid `remote` subsegment, and the server sees an
X-Amzn-Trace-Id whose Root and Parent name that subsegment."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from downstream_support import UdpDaemon, flatten, new_trace_header, run_function

CLIENTS = ("requests", "httpx", "urllib3", "httpx-async")


class Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, dict[str, str]]] = []

    def _answer(self) -> None:
        self.seen.append((self.command, self.path, dict(self.headers.items())))
        status = 500 if self.path.startswith("/fail") else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def http_server() -> Iterator[tuple[str, list[tuple[str, str, dict[str, str]]]]]:
    seen: list[tuple[str, str, dict[str, str]]] = []
    handler = type("Handler", (Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def calls(http_server: Any, sampled: int, w3c: bool) -> dict[str, Any]:
    url, seen = http_server
    seen.clear()
    daemon = UdpDaemon()
    header, root, parent = new_trace_header(sampled=sampled)
    try:
        env = {
            "_X_AMZN_TRACE_ID": header,
            "AWS_XRAY_DAEMON_ADDRESS": daemon.address,
            "TARGET_URL": url,
            "LAMBDA_TRACING_PROPAGATE_W3C": "true" if w3c else "false",
        }
        result = run_function("http_calls", env)
        wanted = 5 if sampled else 0
        documents = daemon.wait_for(
            lambda docs: len(docs) >= wanted, timeout=30 if sampled else 0.5
        )
    finally:
        daemon.close()
    return {**result, "documents": documents, "root": root, "parent": parent, "seen": list(seen)}


@pytest.fixture(scope="module")
def sampled(http_server: Any) -> dict[str, Any]:
    return calls(http_server, sampled=1, w3c=True)


def header_of(request_headers: dict[str, str]) -> dict[str, str]:
    value = request_headers["X-Amzn-Trace-Id"]
    return dict(part.split("=", 1) for part in value.split(";"))


def request_to(run: dict[str, Any], path: str) -> tuple[str, dict[str, str]]:
    (found,) = [
        (method, headers) for method, seen_path, headers in run["seen"] if seen_path == path
    ]
    return found


PATHS = {
    "requests": ("/requests?secret=1", "GET", 200),
    "httpx": ("/httpx", "GET", 200),
    "urllib3": ("/urllib3", "GET", 200),
    "httpx-async": ("/httpx-async", "GET", 200),
    "requests-500": ("/fail/requests", "POST", 500),
}


@pytest.mark.parametrize("client", sorted(PATHS))
def test_each_call_is_a_remote_node_whose_id_the_server_received(
    sampled: dict[str, Any], client: str
) -> None:
    path, method, status = PATHS[client]
    assert sampled["statuses"][client] == status
    _, headers = request_to(sampled, path)
    sent = header_of(headers)
    assert sent["Root"] == sampled["root"] and sent["Sampled"] == "1"
    (subsegment,) = [e for e in flatten(sampled["documents"]) if e["id"] == sent["Parent"]]
    assert subsegment["namespace"] == "remote"
    assert subsegment["name"] == "127.0.0.1"
    assert subsegment["trace_id"] == sampled["root"]
    assert subsegment["parent_id"] == sampled["parent"]
    request = subsegment["http"]["request"]
    assert request["method"] == method
    assert request["url"].endswith(path.split("?")[0])  # recorded without the query string
    assert "secret" not in request["url"]
    assert subsegment["http"]["response"]["status"] == status
    if status >= 500:
        assert subsegment["fault"] is True
    # W3C traceparent (configured on) carries the same trace and parent.
    trace_hex = sampled["root"][2:].replace("-", "")
    assert headers["traceparent"] == f"00-{trace_hex}-{sent['Parent']}-01"


def test_documents_are_schema_valid_and_one_per_call(
    sampled: dict[str, Any], segment_validator: Any
) -> None:
    for document in sampled["documents"]:
        assert [e.message for e in segment_validator.iter_errors(document)] == []
    # requests runs on urllib3, yet each call is one node: the urllib3 patch steps aside.
    assert len(flatten(sampled["documents"])) == len(PATHS)


def test_sampled_0_records_nothing_and_propagates_the_decision(http_server: Any) -> None:
    run = calls(http_server, sampled=0, w3c=False)
    assert run["documents"] == []
    assert len(run["seen"]) == len(PATHS)
    for _, _, headers in run["seen"]:
        sent = header_of(headers)
        assert sent["Root"] == run["root"]
        assert sent["Sampled"] == "0"
        assert sent["Parent"] == run["parent"]  # nothing recorded here, so the caller's segment
        assert "traceparent" not in headers


def test_unusual_calls_behave_as_without_the_layer(http_server: Any) -> None:
    """requests raises its own MissingSchema for url "", takes a url object and request= by
    keyword; a trace header the caller set reaches the server as set; the caller's headers
    dict comes back unchanged (a header left in it would carry this trace into the next)."""
    url, seen = http_server
    seen.clear()
    daemon = UdpDaemon()
    header, root, _ = new_trace_header(sampled=1)
    try:
        env = {
            "_X_AMZN_TRACE_ID": header,
            "AWS_XRAY_DAEMON_ADDRESS": daemon.address,
            "TARGET_URL": url,
        }
        result = run_function("http_unusual_calls", env)
        documents = daemon.wait_for(lambda docs: len(flatten(docs)) >= 4, timeout=30)
    finally:
        daemon.close()
    assert result["outcomes"] == {
        "empty url": ["raised", "MissingSchema"],
        "url object": ["ok", 200],
        "prepare_request by keyword": ["ok", None],
        "requests, own header": ["ok", 200],
        "httpx, own header": ["ok", 200],
        "reused headers": ["ok", 200],
    }
    assert result["reused_after"] == {"Accept": "application/json"}
    for path in ("/own-requests", "/own-httpx"):
        assert request_to({"seen": list(seen)}, path)[1]["X-Amzn-Trace-Id"] == result["own"]
    _, reused = request_to({"seen": list(seen)}, "/reused")
    assert header_of(reused)["Root"] == root  # ours, on the request, not in the caller's dict
    recorded = [e for e in flatten(documents) if e.get("namespace") == "remote"]
    assert [
        e["http"]["request"]["url"] for e in recorded if "url-object" in e["http"]["request"]["url"]
    ] == [f"{url}/url-object"]
