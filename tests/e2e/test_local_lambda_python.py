"""Local mode runs a function on the Python its Runtime names (3.13 here, Debian's, set up by
`make lambda-pythons`/`make test`), with the tracing layer as `sam build` builds it: wheels and
bytecode for that version, read-only, nothing compiled written."""

from __future__ import annotations

import os
import stat
import textwrap
from pathlib import Path

import pytest
from e2e_support import ROOT, by_origin, trace_documents
from lambda_tracing_local.runtime.interpreters import BUILT_FOR, interpreter
from lambda_tracing_local.runtime.layers import build_layers
from lambda_tracing_local.runtime.local_lambda import LocalLambda
from lambda_tracing_local.runtime.template import LocalValues, load_template
from lambda_tracing_local.xray import LocalXRay

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        interpreter("python3.13") is None,
        reason="no .venv-py3.13: run `make test` (sets up Python 3.13)",
    ),
]

HANDLER = """
import os, sys

def handler(event, context):
    import lambda_tracing.handler as traced
    from importlib.util import cache_from_source
    layer = [m for name, m in sys.modules.items()
             if name.startswith(("lambda_tracing", "aws_xray_sdk"))
             and getattr(m, "__file__", None)]
    return {
        "version": list(sys.version_info[:2]),
        "dont_write_bytecode": sys.dont_write_bytecode,
        "handler_file": traced.__file__,
        "layer_modules": len(layer),
        "without_bytecode": [m.__name__ for m in layer
                             if not os.path.exists(cache_from_source(m.__file__))],
    }
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-function template using the real TracingLayer through its exec wrapper."""
    root = tmp_path_factory.mktemp("app313")
    (root / "fn").mkdir()
    (root / "fn/app.py").write_text(HANDLER)
    layer_uri = os.path.relpath(ROOT / "layers/tracing", root)
    (root / "template.yaml").write_text(
        textwrap.dedent(f"""\
        AWSTemplateFormatVersion: "2010-09-09"
        Transform: AWS::Serverless-2016-10-31
        Resources:
          TracingLayer:
            Type: AWS::Serverless::LayerVersion
            Properties:
              ContentUri: {layer_uri}
            Metadata:
              BuildMethod: makefile
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Runtime: python3.13
              Tracing: Active
              CodeUri: fn/
              Handler: app.handler
              Layers: [!Ref TracingLayer]
              Environment:
                Variables:
                  AWS_LAMBDA_EXEC_WRAPPER: /opt/lambda-tracing
        """)
    )
    return root


def test_function_runs_on_313_with_the_layer_as_built_and_read_only(app: Path) -> None:
    template = app / "template.yaml"
    layers = build_layers(load_template(template), app, app / ".layers")
    layer = layers["TracingLayer"]
    assert (layer / BUILT_FOR).read_text() == "3.13"
    handler_source = layer / "python/lambda_tracing/handler.py"
    assert not handler_source.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    before = sorted(p.name for p in layer.rglob("*.pyc"))

    with (
        LocalXRay() as xray,
        LocalLambda(
            template,
            LocalValues(),
            "http://127.0.0.1:9",
            layers,
            xray_daemon=xray.udp_address,
        ) as local_lambda,
    ):
        result = local_lambda.invoke("Fn", {})
        assert result.function_error is None, result.payload
        seen = result.payload
        assert seen["version"] == [3, 13]
        assert seen["dont_write_bytecode"] is True
        assert seen["handler_file"] == str(handler_source)
        assert seen["layer_modules"] > 10 and seen["without_bytecode"] == []
        documents = trace_documents(xray, result.trace.trace_id, 3)
        by_origin(documents, "AWS::Lambda::Function")
    assert sorted(p.name for p in layer.rglob("*.pyc")) == before  # nothing written

    # A second build with nothing changed reuses it, read-only files and all.
    assert build_layers(load_template(template), app, app / ".layers") == layers
