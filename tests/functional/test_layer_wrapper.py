"""Acceptance 1: a real handler run as Lambda runs it, through the built layer's wrapper.

A temporary "/opt" holds the layer (wrapper script + python/lambda_tracing); the wrapper execs a
runtime-like driver that imports `_HANDLER` and invokes it with a fresh `_X_AMZN_TRACE_ID` each
time; AWS_XRAY_DAEMON_ADDRESS points at a real UDP listener; every document received must
validate against AWS's segment-document schema.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from layer_support import (
    LAYER_SOURCE,
    build_layer,
    new_trace_header,
    run_through_wrapper,
    udp_listener,
)

APP = textwrap.dedent("""
    import json
    import logging

    import boto3  # most functions do; gives the cold-start breakdown something to show

    class ShowTrace(logging.Formatter):
        def format(self, record):
            return f"{record.getMessage()} xray_trace_id={getattr(record, 'xray_trace_id', None)}"

    _stream = logging.StreamHandler()
    _stream.setFormatter(ShowTrace())
    logging.getLogger().addHandler(_stream)
    logger = logging.getLogger("app")

    def handler(event, context):
        logger.warning("handling %s", event["n"])
        if event.get("fail"):
            raise ValueError("failed on purpose")
        response = {"statusCode": event.get("status", 200), "body": json.dumps(event)}
        if "requestContext" not in event:
            response["headers"] = {"Authorization": "Bearer abcdefghijklmnopqrst"}
        return response
""")


def names(document: dict[str, Any]) -> list[str]:
    return [document["name"]] + [
        n for child in document.get("subsegments", []) for n in names(child)
    ]


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("lambda")
    wrapper = build_layer(root / "opt")
    task = root / "task"
    task.mkdir()
    (task / "app.py").write_text(APP)
    return wrapper, task


def test_traced_through_the_wrapper(layer: tuple[Path, Path], segment_validator: Any) -> None:
    wrapper, task = layer
    headers = [new_trace_header() for _ in range(4)]
    invocations: list[dict[str, Any]] = [
        {"event": {"n": 0}, "trace_header": headers[0]},
        {"event": {"n": 1, "requestContext": {}, "status": 404}, "trace_header": headers[1]},
        {"event": {"n": 2, "fail": True}, "trace_header": headers[2]},
        {"event": {"n": 3, "requestContext": {}, "status": 503}, "trace_header": headers[3]},
        {"event": {"n": 4}, "trace_header": new_trace_header(sampled=0)},
        {"event": {"n": 5}, "trace_header": None},
    ]
    with udp_listener() as daemon:
        report = run_through_wrapper(
            wrapper, task, "app.handler", {"AWS_XRAY_DAEMON_ADDRESS": daemon.address}, invocations
        )
        documents = daemon.receive()

    # The runtime saw the swap, and the layer came from "/opt/python", not the dev install.
    assert report["handler_env"] == "lambda_tracing.bootstrap.handler"
    assert report["user_handler_env"] == "app.handler"
    assert report["lambda_tracing_file"].startswith(str(wrapper.parent / "python"))
    results = report["results"]
    assert results[0]["return"]["statusCode"] == 200
    assert results[2] == {
        "request_id": results[2]["request_id"],
        "error": "ValueError",
        "message": "failed on purpose",
    }
    assert [r.get("return", {}).get("statusCode") for r in results] == [
        200,
        404,
        None,
        503,
        200,
        200,
    ]

    assert documents, report["stderr"]
    for document in documents:
        segment_validator.validate(document)

    handler_docs = [d for d in documents if d["name"] == "## handler"]
    assert len(handler_docs) == 4, [d["name"] for d in documents]
    by_root = {d["trace_id"]: d for d in handler_docs}
    cold = []
    for header, result in zip(headers, results, strict=False):
        root = header.split(";")[0].removeprefix("Root=")
        parent = header.split(";")[1].removeprefix("Parent=")
        document = by_root[root]
        assert document["parent_id"] == parent
        annotations = document["annotations"]
        assert annotations["Service"] == "layer-test-fn"
        assert annotations["FunctionVersion"] == "$LATEST"
        assert annotations["FunctionAlias"] == "live"
        assert annotations["RequestId"] == result["request_id"]
        cold.append(annotations["ColdStart"])
    assert cold == [True, False, False, False]

    first, not_found, failed, unavailable = (by_root[h.split(";")[0][5:]] for h in headers)
    assert first["metadata"]["layer-test-fn"]["response"]["headers"] == {
        "Authorization": "[REDACTED]"
    }
    assert "event" not in first["metadata"]["layer-test-fn"]
    assert not_found["http"]["response"]["status"] == 404 and not_found["error"] is True
    assert unavailable["http"]["response"]["status"] == 503 and unavailable["fault"] is True
    assert failed["fault"] is True
    (exception,) = failed["cause"]["exceptions"]
    assert exception["type"] == "ValueError" and exception["message"] == "failed on purpose"
    assert exception["stack"][-1]["path"] == "app.py"
    assert all("lambda_tracing" not in frame["path"] for frame in exception["stack"])

    # Cold-start breakdown: once, in the first trace, the user's import with boto3 inside.
    init_docs = [d for d in documents if d["name"].startswith("## init")]
    assert len(init_docs) == 1
    (init,) = init_docs
    assert init["name"] == "## init app" and init["trace_id"] == first["trace_id"]
    assert init["start_time"] < init["end_time"] <= first["start_time"]
    assert "import app" in names(init) and "import boto3" in names(init)
    assert "## lambda_tracing patch" in names(init)

    # Logs joined to traces: the trace id of each invocation on its records, none outside.
    lines = [line for line in report["stderr"].splitlines() if line.startswith("handling")]
    assert len(lines) == 6
    for line, header in zip(lines, headers, strict=False):
        assert line.endswith("xray_trace_id=" + header.split(";")[0][5:])
    assert lines[5].endswith("xray_trace_id=None")


def test_a_broken_user_module_fails_as_lambda_would(
    layer: tuple[Path, Path], tmp_path: Path
) -> None:
    wrapper, _ = layer
    (tmp_path / "broken.py").write_text("import no_such_module_for_sure\n")
    with pytest.raises(AssertionError) as failure:
        run_through_wrapper(wrapper, tmp_path, "broken.handler", {}, [{"event": {}}])
    message = str(failure.value)
    assert "ModuleNotFoundError" in message and "no_such_module_for_sure" in message
    assert "unable to import the function's handler module 'broken'" in message


def test_wrapper_keeps_variables_the_user_set(layer: tuple[Path, Path]) -> None:
    wrapper, task = layer
    (task / "env_app.py").write_text(
        "import os\ndef handler(event, context):\n"
        "    return {k: os.environ.get(k) for k in event}\n"
    )
    keys = ["AWS_XRAY_CONTEXT_MISSING", "LAMBDA_TRACING_LOG_TRACE_ID", "PYTHONPATH"]
    report = run_through_wrapper(
        wrapper,
        task,
        "env_app.handler",
        {"AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR"},
        [{"event": keys}],
    )
    seen = report["results"][0]["return"]
    assert seen["AWS_XRAY_CONTEXT_MISSING"] == "LOG_ERROR"
    assert seen["LAMBDA_TRACING_LOG_TRACE_ID"] is None  # the layer's default needs no variable
    assert seen["PYTHONPATH"] == f"{task}:{wrapper.parent / 'python'}"


POWERTOOLS_APP = textwrap.dedent("""
    import httpx  # noqa: F401 - patch_all patches it too
    import boto3
    import requests
    from aws_lambda_powertools import Tracer
    from botocore.stub import Stubber
    from requests.adapters import BaseAdapter

    tracer = Tracer(service="orders")  # runs aws-xray-sdk's patch_all at import
    sqs = boto3.client("sqs", region_name="us-east-1")
    stubber = Stubber(sqs)
    for _ in range(6):
        stubber.add_response("list_queues", {"QueueUrls": []})
    stubber.activate()

    class Answer(BaseAdapter):  # an HTTP service without a network
        def send(self, request, **kwargs):
            response = requests.Response()
            response.status_code, response.request, response.url = 200, request, request.url
            return response

        def close(self):
            pass

    session = requests.Session()
    session.mount("http://", Answer())

    def handler(event, context):
        sqs.list_queues()
        sqs.list_queues()
        headers = {"Accept": "text/plain"}
        session.get("http://inventory.internal/stock", headers=headers)
        try:
            session.get("")
            empty = "no error"
        except Exception as error:
            empty = type(error).__name__
        try:  # requests.get passes the url by keyword, which the SDK's wrapper cannot read
            requests.get("")
            by_keyword = "no error"
        except Exception as error:
            by_keyword = type(error).__name__
        by_object = session.request(method="GET", url=Url("http://inventory.internal/o"))
        return {"ok": True, "headers_after": headers, "empty_url": empty,
                "empty_url_by_keyword": by_keyword, "url_object": by_object.status_code}


    class Url:  # a url object requests takes through str(), as yarl's or furl's
        def __init__(self, text):
            self.text = text

        def __str__(self):
            return self.text
""")


def test_beside_powertools_tracer_every_aws_call_is_recorded_once(
    layer: tuple[Path, Path], tmp_path: Path
) -> None:
    """A function still creating Powertools' Tracer (mid-migration): its patch_all wraps the
    layer's deferred botocore patch, which must neither remove that wrapper nor trace twice,
    and the httpx patch waits for the SDK's own httpx import to finish."""
    wrapper, _ = layer
    (tmp_path / "pt_app.py").write_text(POWERTOOLS_APP)
    headers = [new_trace_header() for _ in range(3)]
    with udp_listener() as daemon:
        report = run_through_wrapper(
            wrapper,
            tmp_path,
            "pt_app.handler",
            {
                "AWS_XRAY_DAEMON_ADDRESS": daemon.address,
                "AWS_ACCESS_KEY_ID": "x",
                "AWS_SECRET_ACCESS_KEY": "x",
            },
            [{"event": {}, "trace_header": header} for header in headers],
        )
        documents = daemon.receive()
    expected = {
        "ok": True,
        "headers_after": {"Accept": "text/plain"},
        "empty_url": "MissingSchema",
        "empty_url_by_keyword": "MissingSchema",
        "url_object": 200,
    }
    assert [r.get("return") for r in report["results"]] == [expected] * 3

    def calls(document: dict[str, Any]) -> list[str]:
        own = [document["name"]] if document.get("namespace") in ("aws", "remote") else []
        return own + [n for child in document.get("subsegments", []) for n in calls(child)]

    for header in headers:  # the first invocation's calls too, all in the layer's documents
        root = header.split(";")[0].removeprefix("Root=")
        made = sorted(n for d in documents if d["trace_id"] == root for n in calls(d))
        # The failed calls are recorded too, as the SDK names a call with no host.
        assert made == [
            "UNKNOWN HOST",
            "UNKNOWN HOST",
            "inventory.internal",
            "inventory.internal",
            "sqs",
            "sqs",
        ], (made, report)
    assert "could not instrument" not in report["stderr"], report["stderr"]
    assert "Traceback" not in report["stderr"], report["stderr"]


INIT_FAULT_PROBE = textwrap.dedent("""
    import json, os, sys
    from awslambdaric.bootstrap import _get_handler

    def fault(handler):
        try:
            _get_handler(handler)
            return "loaded"
        except Exception as error:
            return [type(error).__name__, getattr(error, "exception_type", None),
                    getattr(error, "msg", str(error)), getattr(error, "trace", None)]

    user = sys.argv[1]
    without = fault(user)
    sys.modules.pop(user.rsplit(".", 1)[0], None)  # as in a fresh process
    os.environ["LAMBDA_TRACING_HANDLER"] = user
    print(json.dumps({"without": without, "with": fault("lambda_tracing.bootstrap.handler")}))
""")


@pytest.mark.parametrize(
    "user_handler",
    [
        "ok_app.missing",
        "syntax_app.handler",
        "nodots",
        "no_such_app.handler",
        "ok_app.handler",
        "side_effect_app.handler",
        "attribute_error_app.handler",
    ],
)
def test_init_faults_are_the_runtimes_own_with_the_layer(tmp_path: Path, user_handler: str) -> None:
    """awslambdaric loads `lambda_tracing.handler`; a user handler it cannot load must fail
    with the fault awslambdaric gives without the layer (type and message naming the user's
    module), not one naming ours."""
    (tmp_path / "ok_app.py").write_text("def handler(event, context):\n    return 1\n")
    (tmp_path / "syntax_app.py").write_text("def handler(event, context):\n    return (\n")
    (tmp_path / "probe.py").write_text(INIT_FAULT_PROBE)
    # An AttributeError raised by the module's own body is not a missing handler.
    (tmp_path / "attribute_error_app.py").write_text("import os\nos.no_such_function()\n")
    runs = tmp_path / "runs.txt"  # one line per run of the module's body
    (tmp_path / "side_effect_app.py").write_text(
        f"open({str(runs)!r}, 'a').write('ran\\n')\nimport no_such_dependency\n"
    )
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": f"{LAYER_SOURCE}{os.pathsep}{tmp_path}",
        "LAMBDA_TASK_ROOT": str(tmp_path),
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9",
    }
    done = subprocess.run(
        [sys.executable, str(tmp_path / "probe.py"), user_handler],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["with"] == result["without"], done.stderr
    if user_handler not in ("ok_app.handler", "attribute_error_app.handler"):
        assert result["without"][0] == "FaultException"
    if user_handler.startswith("side_effect_app"):  # once each way: never imported again
        assert runs.read_text() == "ran\nran\n"


POWERTOOLS_DECORATED_APP = textwrap.dedent("""
    import boto3
    from aws_lambda_powertools import Tracer
    from botocore.stub import Stubber

    tracer = Tracer(service="orders")
    sqs = boto3.client("sqs", region_name="us-east-1")
    stubber = Stubber(sqs)
    for _ in range(4):
        stubber.add_response("list_queues", {"QueueUrls": []})
    stubber.activate()

    @tracer.capture_method
    def load():
        sqs.list_queues()
        return 1

    @tracer.capture_lambda_handler
    def handler(event, context):
        tracer.put_annotation("Order", "o-1")
        return {"loaded": load()}
""")

SDK_USER_APP = textwrap.dedent("""
    import boto3
    from aws_xray_sdk.core import patch_all, xray_recorder
    from botocore.stub import Stubber

    patch_all()
    sqs = boto3.client("sqs", region_name="us-east-1")
    stubber = Stubber(sqs)
    for _ in range(4):
        stubber.add_response("list_queues", {"QueueUrls": []})
    stubber.activate()

    def handler(event, context):
        with xray_recorder.in_subsegment("mine") as mine:
            mine.put_annotation("Step", "load")
            sqs.list_queues()
        return "done"
""")


def _tree(document: dict[str, Any]) -> Any:
    return (document["name"], [_tree(child) for child in document.get("subsegments", [])])


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (POWERTOOLS_DECORATED_APP, ("## handler", [("## sdk_app.load", [("sqs", [])])])),
        (SDK_USER_APP, ("## handler", [("mine", [("sqs", [])])])),
    ],
    ids=["powertools-tracer", "sdk-recorder-after-patch-all"],
)
def test_beside_the_sdks_own_recorder_one_handler_span_and_calls_stay_in_place(
    layer: tuple[Path, Path], tmp_path: Path, segment_validator: Any, source: str, expected: Any
) -> None:
    """Issue 17: beside Powertools Tracer each invocation had two sibling `## handler`
    subsegments, and a call made inside the user's own subsegment (capture_method,
    xray_recorder.in_subsegment after patch_all) was recorded outside it."""
    wrapper, _ = layer
    (tmp_path / "sdk_app.py").write_text(source)
    headers = [new_trace_header() for _ in range(2)]
    with udp_listener() as daemon:
        report = run_through_wrapper(
            wrapper,
            tmp_path,
            "sdk_app.handler",
            {
                "AWS_XRAY_DAEMON_ADDRESS": daemon.address,
                "AWS_ACCESS_KEY_ID": "x",
                "AWS_SECRET_ACCESS_KEY": "x",
            },
            [{"event": {}, "trace_header": header} for header in headers],
        )
        documents = daemon.receive()
    assert all("return" in result for result in report["results"]), report
    for document in documents:
        segment_validator.validate(document)
    for header in headers:
        root = header.split(";")[0].removeprefix("Root=")
        trees = [
            _tree(d)
            for d in documents
            if d["trace_id"] == root and not d["name"].startswith("## init")
        ]
        assert trees == [expected], (trees, report["stderr"])
    handler = next(
        d for d in documents if d["name"] == "## handler" and d["trace_id"] in headers[0]
    )
    assert handler["annotations"]["ColdStart"] is True
    if source is POWERTOOLS_DECORATED_APP:  # what Powertools writes lands on the one span
        assert handler["annotations"]["Order"] == "o-1"
        assert handler["annotations"]["Service"] == "orders"
        assert handler["metadata"]["orders"]["handler response"] == {"loaded": 1}
