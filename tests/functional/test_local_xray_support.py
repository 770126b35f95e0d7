"""Helpers for the local X-Ray tests: botocore clients and response checks against the
X-Ray service model. (Named test_* so it sits beside the tests it serves; it holds no tests.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.stub import Stubber

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "xray"
SCALARS: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "long": int,
    "boolean": bool,
    "double": (int, float),
    "float": (int, float),
    "timestamp": (int, float),  # rest-json sends epoch seconds
}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def client(api_url: str) -> Any:
    return boto3.client(
        "xray",
        endpoint_url=api_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"max_attempts": 1}),
    )


def model() -> Any:
    return botocore.session.get_session().get_service_model("xray")


def raw_shape_errors(value: Any, shape: Any, path: str = "") -> list[str]:
    """Every place the raw JSON differs from the shape: unknown keys, wrong types, missing
    required members. botocore's parser drops unknown keys silently, so check them here."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path or '<root>'}: expected object, got {type(value).__name__}"]
        errors = [f"{path}.{k}: not in {shape.name}" for k in value if k not in shape.members]
        errors += [
            f"{path}.{k}: required by {shape.name}"
            for k in shape.required_members
            if k not in value
        ]
        for key, item in value.items():
            if key in shape.members and item is not None:
                errors += raw_shape_errors(item, shape.members[key], f"{path}.{key}")
        return errors
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected list"]
        return [
            e
            for i, item in enumerate(value)
            for e in raw_shape_errors(item, shape.member, f"{path}[{i}]")
        ]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected map"]
        return [
            e
            for k, item in value.items()
            for e in raw_shape_errors(item, shape.value, f"{path}[{k}]")
        ]
    expected = SCALARS.get(kind)
    if expected is None:
        return []
    if (kind != "boolean" and isinstance(value, bool)) or not isinstance(value, expected):
        return [f"{path}: expected {kind}, got {value!r}"]
    if kind == "string" and shape.enum and value not in shape.enum:
        return [f"{path}: {value!r} not one of {shape.enum}"]
    return []


def assert_valid_response(operation: str, raw: dict[str, Any], parsed: dict[str, Any]) -> None:
    """The raw body matches the output shape, and botocore's Stubber accepts the parsed one."""
    output = model().operation_model(operation).output_shape
    errors = raw_shape_errors(raw, output)
    assert not errors, "\n".join(errors)
    stub_client = botocore.session.get_session().create_client(
        "xray", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    parsed = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
    # Stubber validates the response against the service model and raises if it breaks it.
    method = {api: name for name, api in stub_client.meta.method_to_api_mapping.items()}
    Stubber(stub_client).add_response(method[operation], parsed)


def call(api_url: str, operation: str, **params: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Call through boto3 and capture the raw body too; returns (parsed, raw)."""
    xray = client(api_url)
    captured: dict[str, Any] = {}

    def keep_body(http_response: Any, **_: Any) -> None:
        captured["raw"] = json.loads(http_response.content or b"{}")

    xray.meta.events.register("after-call.xray", lambda **kw: keep_body(kw["http_response"]))
    method = xray.meta.method_to_api_mapping
    name = {v: k for k, v in method.items()}[operation]
    parsed = getattr(xray, name)(**params)
    assert_valid_response(operation, captured["raw"], parsed)
    return parsed, captured["raw"]
