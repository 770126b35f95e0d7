"""Helpers of the end-to-end tests: the fixture app's paths and reading traces back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import boto3
from lambda_tracing_local.runtime.template import LocalValues
from lambda_tracing_local.xray import LocalXRay

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_APP = Path(__file__).parent / "fixture_app"
FIXTURE_TEMPLATE = FIXTURE_APP / "template.yaml"
FIXTURE_VALUES = LocalValues(
    refs={"Table": "fixture-table"},
    attributes={("Table", "Arn"): "arn:aws:dynamodb:us-east-1:123456789012:table/fixture-table"},
)


def xray_client(xray: LocalXRay) -> Any:
    return boto3.client(
        "xray",
        endpoint_url=xray.api_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def trace_documents(xray: LocalXRay, trace_id: str, count: int) -> list[dict[str, Any]]:
    """The decoded segments of one trace, once `count` documents have been stored."""
    assert xray.wait_for(count, timeout=10), xray.stats
    traces = xray_client(xray).batch_get_traces(TraceIds=[trace_id])["Traces"]
    assert traces, f"trace {trace_id} not found"
    return [json.loads(segment["Document"]) for segment in traces[0]["Segments"]]


def by_origin(documents: list[dict[str, Any]], origin: str) -> dict[str, Any]:
    found = [doc for doc in documents if doc.get("origin") == origin]
    assert len(found) == 1, (origin, documents)
    return found[0]


def assemble_tracing_layer(target: Path) -> dict[str, Path]:
    """The TracingLayer as /opt would hold it, without pip: the package and the wrapper script.

    Its third-party dependencies are already importable from this venv, which runs the
    functions; building with `make ... HOST=1` would fetch them from the package index, and
    tests stay off the network.
    """
    source = ROOT / "layers" / "tracing"
    layer = target / "TracingLayer"
    shutil.copytree(
        source / "lambda_tracing",
        layer / "python" / "lambda_tracing",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy2(source / "lambda-tracing", layer / "lambda-tracing")
    return {"TracingLayer": layer}
