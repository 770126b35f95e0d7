"""Acceptance 1: a separate process using aws-xray-sdk directly (not our layer) sends a segment
with DynamoDB, SQS and HTTP subsegments to the local daemon; boto3 reads the graph back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from lambda_tracing_local.xray import LocalXRay
from test_local_xray_support import call

SCRIPT = textwrap.dedent(
    """
    import http.server, json, sys, threading
    import boto3, requests
    from moto import mock_aws
    from aws_xray_sdk.core import patch, xray_recorder

    # A loopback HTTP service for the "remote" call.
    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
            self.wfile.write(b"ok")
        def log_message(self, *args):
            pass
    web = http.server.HTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=web.serve_forever, daemon=True).start()

    xray_recorder.configure(sampling=False, context_missing="LOG_ERROR",
                            streaming_threshold=int(sys.argv[1]))
    patch(["botocore", "requests"])
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(TableName="orders", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url = sqs.create_queue(QueueName="shipments")["QueueUrl"]
        segment = xray_recorder.begin_segment("checkout")
        segment.put_annotation("customer", "c-42")
        dynamodb.put_item(TableName="orders", Item={"id": {"S": "o-1"}})
        sqs.send_message(QueueUrl=queue_url, MessageBody="o-1")
        requests.get(f"http://127.0.0.1:{web.server_port}/stock")
        xray_recorder.end_segment()
    print(json.dumps({"trace_id": segment.trace_id, "queue_url": queue_url}))
    """
)


def run_sdk_process(tmp_path: Path, udp_address: str, streaming_threshold: int) -> dict:
    script = tmp_path / "traced_app.py"
    script.write_text(SCRIPT)
    env = {
        **os.environ,
        "AWS_XRAY_DAEMON_ADDRESS": udp_address,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_XRAY_SDK_ENABLED": "true",
    }
    for name in ("AWS_XRAY_CONTEXT_MISSING", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, str(script), str(streaming_threshold)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_sdk_segment_becomes_the_graph_x_ray_would_draw(tmp_path: Path) -> None:
    with LocalXRay() as xr:
        before = time.time() - 5
        app = run_sdk_process(tmp_path, xr.udp_address, streaming_threshold=30)
        assert xr.wait_for(1, timeout=10), xr.stats
        graph, raw = call(xr.api_url, "GetServiceGraph", StartTime=before, EndTime=time.time() + 5)
    nodes = {(s["Name"], s["Type"]): s for s in raw["Services"]}
    by_reference = {s["ReferenceId"]: (s["Name"], s["Type"]) for s in raw["Services"]}
    assert set(nodes) == {
        ("checkout", "client"),
        ("checkout", "service"),
        ("orders", "AWS::DynamoDB::Table"),
        (app["queue_url"], "AWS::SQS::Queue"),
        ("127.0.0.1", "remote"),
    }
    edges = {
        (by_reference[s["ReferenceId"]], by_reference[e["ReferenceId"]])
        for s in raw["Services"]
        for e in s["Edges"]
    }
    assert edges == {
        (("checkout", "client"), ("checkout", "service")),
        (("checkout", "service"), ("orders", "AWS::DynamoDB::Table")),
        (("checkout", "service"), (app["queue_url"], "AWS::SQS::Queue")),
        (("checkout", "service"), ("127.0.0.1", "remote")),
    }
    assert nodes[("checkout", "service")]["Root"] is True
    assert nodes[("checkout", "client")]["SummaryStatistics"] == {}
    table = nodes[("orders", "AWS::DynamoDB::Table")]
    assert table["SummaryStatistics"]["OkCount"] == 1
    assert sum(bin["Count"] for bin in table["ResponseTimeHistogram"]) == 1
    # botocore parsed the timestamps as datetimes: the shapes were honoured.
    assert graph["Services"][0]["StartTime"].tzinfo is not None


def test_streamed_subsegments_are_assembled_into_their_segment(tmp_path: Path) -> None:
    with LocalXRay() as xr:
        # Threshold 1 makes the SDK send each finished subsegment in its own datagram.
        app = run_sdk_process(tmp_path, xr.udp_address, streaming_threshold=1)
        assert xr.wait_for(3, timeout=10), xr.stats
        time.sleep(0.2)
        traces, raw = call(xr.api_url, "BatchGetTraces", TraceIds=[app["trace_id"]])
    assert xr.stats["rejected"] == 0
    [trace] = raw["Traces"]
    [segment] = [json.loads(s["Document"]) for s in trace["Segments"]]
    names = sorted(sub["name"] for sub in segment["subsegments"])
    assert names == ["127.0.0.1", "dynamodb", "sqs"]
    # Two subsegments came in datagrams of their own (the SDK keeps the last one in the segment).
    assert xr.stats["stored"] == 3
    streamed = [sub for sub in segment["subsegments"] if sub["name"] in ("dynamodb", "sqs")]
    assert all("trace_id" not in sub and "type" not in sub for sub in streamed)


def test_the_sdks_sampling_poller_gets_rules_and_targets_from_the_daemon_address() -> None:
    """aws-xray-sdk's own connector, pointed where AWS_XRAY_DAEMON_ADDRESS points, as its
    centralised sampler polls: over TCP on the daemon's address, as the X-Ray daemon serves."""
    from aws_xray_sdk.core.sampling.connector import ServiceConnector

    with LocalXRay(sampling_rate=0.25) as xr:
        host, port = xr.udp_address.rsplit(":", 1)
        connector = ServiceConnector()
        connector.setup_xray_client(host, port, None)
        (rule,) = connector.fetch_sampling_rules()
        assert (rule.name, rule.rate, rule.can_borrow) == ("Default", 0.25, True)
        assert rule.is_default()  # the catch-all, matched last
        assert rule.match({"host": "any", "method": "GET", "path": "/x", "service": "svc"})
        targets, modified = connector.fetch_sampling_target([rule])
        assert targets["Default"]["rate"] == 0.25 and targets["Default"]["quota"] == 1
        assert targets["Default"]["TTL"] > time.time() and targets["Default"]["interval"] == 10
        assert modified <= time.time()


SAMPLED_SCRIPT = textwrap.dedent(
    """
    import json, time
    from aws_xray_sdk.core import xray_recorder

    xray_recorder.configure(context_missing="LOG_ERROR")  # centralised sampling, the default
    sampler = xray_recorder.sampler
    sampler.start()
    deadline = time.time() + 15
    while not sampler._cache.rules and time.time() < deadline:
        time.sleep(0.05)
    sampled = 0
    for number in range(40):
        segment = xray_recorder.begin_segment(f"request-{number}")
        sampled += segment.sampled
        xray_recorder.end_segment()
    print(json.dumps({"rules": [r.name for r in sampler._cache.rules], "sampled": sampled}))
    """
)


def test_an_sdk_with_default_sampling_samples_by_the_local_rule(tmp_path: Path) -> None:
    """Without the rule the SDK logs a polling error and samples 1 a second and 5%: here
    every request is sampled, and stored."""
    script = tmp_path / "sampled_app.py"
    script.write_text(SAMPLED_SCRIPT)
    with LocalXRay() as xr:
        env = {**os.environ, "AWS_XRAY_DAEMON_ADDRESS": xr.udp_address}
        env.pop("AWS_XRAY_SDK_ENABLED", None)
        done = subprocess.run(
            [sys.executable, str(script)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result == {"rules": ["Default"], "sampled": 40}, done.stderr
        assert "polling sampling" not in done.stderr, done.stderr
        assert xr.wait_for(40, timeout=10), xr.stats
