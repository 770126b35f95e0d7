"""patch_configured: libraries are patched on their first import, not imported to be patched;
patching is idempotent and a failing patch never breaks the user's import. Each check runs in a
fresh interpreter, since patches are process-wide."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from downstream_support import PROJECT_ROOT

LIBRARIES = ("botocore", "requests", "httpx", "urllib3", "aws_xray_sdk")


# For snippets that trace an invocation: a daemon socket (`daemon`), and a sampled trace header
# for the invocation, as Lambda sets them.
TRACED = """
import os, socket
daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
daemon.bind(("127.0.0.1", 0))
daemon.settimeout(5)
os.environ["AWS_XRAY_DAEMON_ADDRESS"] = "127.0.0.1:%d" % daemon.getsockname()[1]
os.environ["_X_AMZN_TRACE_ID"] = (
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
"""


def run_python(code: str, prelude: str = "") -> Any:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(prelude) + textwrap.dedent(code)],
        env={"PYTHONPATH": str(PROJECT_ROOT / "layers" / "tracing"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_libraries_are_patched_when_first_imported_and_only_once() -> None:
    result = run_python(
        f"""
        import json, sys
        from lambda_tracing.patches import patch_configured
        loaded = lambda: [n for n in {LIBRARIES!r} if n in sys.modules]
        accepted = patch_configured(["botocore", "Requests", "httpx", "urllib3", "grpc", "httpx"])
        after_patching = loaded()
        import requests, urllib3, boto3, botocore.client
        again = patch_configured(["botocore", "requests", "httpx", "urllib3"])
        sdk_before_first_call = "aws_xray_sdk" in sys.modules
        deferred = [getattr(requests.Session.request, "lambda_tracing_deferred", False),
                    getattr(botocore.client.BaseClient._make_api_call, "lambda_tracing_deferred",
                            False)]
        # First calls apply the real patches (no network: a prepared request, a stubbed call).
        requests.Session().prepare_request(requests.Request("GET", "http://example.invalid/"))
        from botocore.stub import Stubber
        sqs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="k",
                           aws_secret_access_key="s")
        with Stubber(sqs) as stubber:
            stubber.add_response("list_queues", {{"QueueUrls": []}})
            sqs.list_queues()
        import httpx
        urlopen = urllib3.connectionpool.HTTPConnectionPool.__dict__["urlopen"]
        api_call = botocore.client.BaseClient.__dict__["_make_api_call"]
        print(json.dumps({{
            "accepted": accepted,
            "after_patching": after_patching,
            "again": again,
            "sdk_before_first_call": sdk_before_first_call,
            "deferred": deferred,
            "httpx_client": httpx.Client.__name__,
            "requests_wrappers": [requests.Session.__dict__[name].__code__.co_filename
                                  .endswith("patches/hooks.py")
                                  for name in ("request", "prepare_request")],
            "urlopen_wrapped_once": [callable(urlopen.__wrapped__),
                                     hasattr(urlopen.__wrapped__, "__wrapped__")],
            "api_call_wrappers": [api_call.__code__.co_filename.rsplit("/", 2)[-2:],
                                  type(api_call.__wrapped__).__name__,
                                  api_call.__wrapped__.__module__],
        }}))
        """
    )
    assert result["accepted"] == ["botocore", "requests", "httpx", "urllib3"]  # grpc: unknown
    assert result["after_patching"] == []  # nothing imported just to patch it
    assert result["again"] == ["botocore", "requests", "httpx", "urllib3"]
    # boto3, requests, urllib3 imported and patched, yet the SDK waits for their first call.
    assert result["sdk_before_first_call"] is False
    assert result["deferred"] == [False, False]  # nothing waits for a first call
    assert result["httpx_client"] == "Client"  # no class swapped
    assert result["requests_wrappers"] == [True, True]
    assert result["urlopen_wrapped_once"] == [True, False]
    # Ours, a plain function, around botocore's own: once.
    assert result["api_call_wrappers"] == [["patches", "hooks.py"], "function", "botocore.client"]


def test_an_already_imported_library_is_patched_at_once() -> None:
    result = run_python(
        """
        import json, urllib3
        from lambda_tracing.patches import patch_configured
        accepted = patch_configured(["urllib3"])
        urlopen = urllib3.connectionpool.HTTPConnectionPool.urlopen
        print(json.dumps({"accepted": accepted, "wrapped": hasattr(urlopen, "__wrapped__")}))
        """
    )
    assert result == {"accepted": ["urllib3"], "wrapped": True}


def test_a_failing_patch_never_breaks_the_users_import() -> None:
    result = run_python(
        """
        import json, logging
        logging.disable(logging.CRITICAL)
        import lambda_tracing.patches.urllib3 as ours
        from lambda_tracing.patches import patch_configured

        def broken():
            raise RuntimeError("patch failed")

        ours.patch = broken
        accepted = patch_configured(["urllib3"])
        import urllib3  # must still work
        pool = urllib3.PoolManager()
        print(json.dumps({"accepted": accepted, "imported": urllib3.__name__,
                          "retry": patch_configured(["nonsense", 3])}))
        """
    )
    assert result == {"accepted": ["urllib3"], "imported": "urllib3", "retry": []}


def test_libraries_first_imported_by_aws_xray_sdk_itself_are_still_patched() -> None:
    # Creating the backend imports aws-xray-sdk, which imports botocore and urllib3: their
    # patches need the SDK and so must wait for the end of its import, not fail or deadlock.
    result = run_python(
        """
        import json, sys
        from lambda_tracing.patches import patch_configured
        accepted = patch_configured(["botocore", "urllib3"])
        from lambda_tracing.backend import get_backend
        get_backend()
        import botocore.client, urllib3.connectionpool
        api_call = botocore.client.BaseClient.__dict__["_make_api_call"]
        urlopen = urllib3.connectionpool.HTTPConnectionPool.__dict__["urlopen"]
        print(json.dumps({"accepted": accepted,
                          "botocore": api_call.__code__.co_filename.endswith("patches/hooks.py"),
                          "urllib3": hasattr(urlopen, "__wrapped__")}))
        """
    )
    assert result == {
        "accepted": ["botocore", "urllib3"],
        "botocore": True,
        "urllib3": True,
    }


def test_an_address_the_sdk_refuses_still_leaves_aws_calls_traced() -> None:
    """A stray space in AWS_XRAY_DAEMON_ADDRESS: the layer's emitter strips it, but the SDK's
    recorder (built when its patchers load) refuses the address, which left every AWS call
    untraced; the patchers must still record through the layer."""
    result = run_python(
        """
        import json, os, socket
        listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(5)
        address = "127.0.0.1:%d" % listener.getsockname()[1]
        os.environ["AWS_XRAY_DAEMON_ADDRESS"] = address + " "
        from lambda_tracing.patches import patch_configured
        patch_configured(["botocore"])
        import boto3, lambda_tracing
        from botocore.stub import Stubber
        sqs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="k",
                           aws_secret_access_key="s")
        stubber = Stubber(sqs)
        stubber.add_response("list_queues", {"QueueUrls": []})
        stubber.activate()
        handler = lambda_tracing.trace_handler(lambda event, context: sqs.list_queues())
        os.environ["_X_AMZN_TRACE_ID"] = (
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
        handler({}, None)
        document = json.loads(listener.recv(65536).split(b"\\n", 1)[1])
        print(json.dumps({
            "aws": [s["name"] for s in document.get("subsegments", [])],
            "address_after": os.environ["AWS_XRAY_DAEMON_ADDRESS"],
        }))
        """
    )
    assert result["aws"] == ["sqs"]
    assert result["address_after"].endswith(" ")  # the user's environment as it was


def test_x_ray_api_calls_work_with_the_sdk_disabled() -> None:
    # AWS_XRAY_SDK_ENABLED=false: aws-xray-sdk leaves botocore alone, ours still wraps it and
    # must call botocore's own method for X-Ray's API (not what its decorator wraps).
    result = run_python(
        """
        import json, os
        os.environ["AWS_XRAY_SDK_ENABLED"] = "false"
        from lambda_tracing.patches import patch_configured
        patch_configured(["botocore"])
        import boto3
        from botocore.stub import Stubber
        xray = boto3.client("xray", region_name="us-east-1", aws_access_key_id="k",
                            aws_secret_access_key="s")
        with Stubber(xray) as stubber:
            stubber.add_response("get_trace_summaries", {"TraceSummaries": []})
            answer = xray.get_trace_summaries(StartTime=0, EndTime=1)
        print(json.dumps({"summaries": answer["TraceSummaries"]}))
        """
    )
    assert result == {"summaries": []}


def test_patching_and_traced_calls_load_neither_wrapt_asyncio_nor_the_sdks_recorder() -> None:
    # What start-up costs a function: the post-import hook is the layer's own. Traced AWS and
    # HTTP calls load nothing of the SDK but its entity model (the backend's): not its recorder,
    # patchers or wrapt (which its core imports), as its patchers did on the first call.
    result = run_python(
        prelude=TRACED,
        code="""
        import json, os, socket, sys
        sdk = ("aws_xray_sdk.core.recorder", "aws_xray_sdk.ext.botocore.patch",
               "aws_xray_sdk.ext.requests.patch")
        heavy = lambda: [n for n in ("wrapt", "asyncio", *sdk) if n in sys.modules]
        import lambda_tracing
        from lambda_tracing.patches import patch_configured
        accepted = patch_configured(["botocore", "requests", "urllib3"])
        at_start_up = heavy()
        import urllib3, requests, boto3, botocore.client  # after start-up, as user code does
        after_imports = heavy()
        from botocore.stub import Stubber
        from requests.adapters import BaseAdapter

        class Answer(BaseAdapter):  # an HTTP service without a network
            def send(self, request, **kwargs):
                response = requests.Response()
                response.status_code, response.request, response.url = 503, request, request.url
                return response

        session = requests.Session()
        session.mount("http://", Answer())
        sqs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="k",
                           aws_secret_access_key="s")
        stubber = Stubber(sqs)
        stubber.add_response("list_queues", {"QueueUrls": []})
        stubber.activate()

        def handler(event, context):
            sqs.list_queues()
            return session.get("http://inventory.internal/stock?sku=1").status_code

        status = lambda_tracing.trace_handler(handler)({}, None)
        document = json.loads(daemon.recv(65536).split(b"\\n", 1)[1])
        calls = [(c["name"], c["namespace"], c.get("http"), c.get("fault", False),
                  c.get("aws", {}).get("operation")) for c in document["subsegments"]]
        print(json.dumps({
            "accepted": accepted,
            "at_start_up": at_start_up,
            "after_imports": after_imports,
            "wrapped": [f.__code__.co_filename.rsplit("/", 1)[-1] for f in (
                urllib3.connectionpool.HTTPConnectionPool.urlopen,
                requests.Session.request,
                requests.Session.prepare_request,
                botocore.client.BaseClient._make_api_call)],
            "status": status,
            "calls": calls,
            "after_calls": heavy(),
        }))
        """,
    )
    assert result == {
        "accepted": ["botocore", "requests", "urllib3"],
        "at_start_up": [],
        "after_imports": [],
        "wrapped": ["urllib3.py", "hooks.py", "hooks.py", "hooks.py"],
        "status": 503,
        "calls": [
            ["sqs", "aws", None, False, "ListQueues"],  # a Stubber answer has no metadata
            [
                "inventory.internal",
                "remote",
                {
                    "request": {"method": "GET", "url": "http://inventory.internal/stock"},
                    "response": {"status": 503},
                },
                True,
                None,
            ],
        ],
        "after_calls": [],
    }


def test_the_post_import_hook_sees_the_finished_module_and_leaves_no_trace(tmp_path: Any) -> None:
    package = tmp_path / "lt_hook_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mod.py").write_text("VALUE = 42\n")
    result = run_python(
        f"""
        import json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        from lambda_tracing.patches.hooks import when_imported
        seen = []
        when_imported("lt_hook_pkg.mod", lambda m: seen.append(m.VALUE))
        when_imported("lt_hook_pkg.mod", lambda m: 1 / 0)  # a failing hook: logged, not raised
        before = list(seen)
        from lt_hook_pkg import mod
        import lt_hook_pkg.mod
        when_imported("lt_hook_pkg.mod", lambda m: seen.append(-m.VALUE))  # already imported
        print(json.dumps({{"before": before, "seen": seen,
                          "loader": type(mod.__loader__).__name__,
                          "spec_loader": type(mod.__spec__.loader).__name__}}))
        """
    )
    assert result == {
        "before": [],
        "seen": [42, -42],  # once, after the module's body; then at once
        "loader": "SourceFileLoader",
        "spec_loader": "SourceFileLoader",
    }


def test_a_wrapped_method_sees_its_instance_and_a_subclass_override_runs_once() -> None:
    from lambda_tracing.patches.hooks import wrap_method

    calls: list[tuple[str, Any]] = []

    class Base:
        def work(self, x: int) -> int:
            calls.append(("base", x))
            return x * 2

    class Child(Base):
        def work(self, x: int) -> int:
            calls.append(("child", x))
            return super().work(x) + 1

    def around(call: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        calls.append(("around", type(instance).__name__))
        return call(*args, **kwargs)

    original = Base.__dict__["work"]
    wrap_method(Base, "work", around)
    assert Base.__dict__["work"].__wrapped__ is original
    assert Base.work.__name__ == "work" and Base.work.__qualname__ == original.__qualname__
    assert Child().work(3) == 7 and Base().work(x=4) == 8
    assert calls == [
        ("child", 3),
        ("around", "Child"),
        ("base", 3),
        ("around", "Base"),
        ("base", 4),
    ]


@pytest.mark.parametrize("order", ["theirs first", "ours first"])
def test_a_method_wrapped_by_wrapt_as_well_runs_each_wrapper_once(order: str) -> None:
    """aws-xray-sdk's patch_all (wrapt) wraps the same method before or after the layer: each
    wrapper sees the instance, and each call reaches the original once."""
    import wrapt
    from lambda_tracing.patches.hooks import wrap_method

    calls: list[str] = []

    class Base:
        def work(self, x: int) -> int:
            calls.append("original")
            return x * 2

    def ours(call: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        calls.append(f"ours {type(instance).__name__}")
        return call(*args, **kwargs)

    def theirs(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        calls.append(f"theirs {type(instance).__name__}")
        return wrapped(*args, **kwargs)

    wrappers = [
        lambda: wrapt.wrap_function_wrapper(Base, "work", theirs),
        lambda: wrap_method(Base, "work", ours),
    ]
    for apply in wrappers if order == "theirs first" else reversed(wrappers):
        apply()
    assert Base().work(3) == 6
    outer_first = (
        ["ours Base", "theirs Base"] if order == "theirs first" else ["theirs Base", "ours Base"]
    )
    assert calls == [*outer_first, "original"]


def test_httpx_patched_by_the_sdks_patch_all_is_taken_over_once_it_finishes() -> None:
    """patch_all (Powertools' Tracer) imports httpx from inside the SDK's own httpx module and
    swaps its client classes: the layer's patch waits for that import, then wraps httpx's own
    send methods beneath the SDK's subclasses, whose transports record nothing. One request, sync
    and async, is one subsegment, with no logged traceback."""
    result = run_python(
        prelude=TRACED,
        code="""
        import asyncio, io, json, logging, os, socket
        stream = io.StringIO()
        logging.basicConfig(stream=stream, level=logging.WARNING)
        import lambda_tracing
        from lambda_tracing import patches
        from lambda_tracing.patches.layer_recorder import PASS_THROUGH
        patches.patch_configured(["httpx"])
        from aws_xray_sdk.core import patch_all
        patch_all()
        patches.apply_waiting()
        import sys, httpx
        sdk_httpx = sys.modules["aws_xray_sdk.ext.httpx.patch"]
        answer = lambda request: httpx.Response(200, text=request.headers["x-amzn-trace-id"])

        async def call_async():
            transport = httpx.MockTransport(answer)
            async with httpx.AsyncClient(transport=transport) as client:
                return (await client.get("http://async.internal/a")).text

        def handler(event, context):
            with httpx.Client(transport=httpx.MockTransport(answer)) as client:
                sent = client.get("http://sync.internal/s?q=1").text
            return [sent, asyncio.run(call_async())]

        sent = lambda_tracing.trace_handler(handler)({}, None)
        document = json.loads(daemon.recv(65536).split(b"\\n", 1)[1])
        calls = [(c["name"], c["http"]["request"]["url"], c["id"]) for c in document["subsegments"]]
        print(json.dumps({
            "log": stream.getvalue(),
            "sdk_classes": [httpx.Client.__name__, httpx.AsyncClient.__name__],
            "sdk_records_nothing": sdk_httpx.xray_recorder is PASS_THROUGH,
            "calls": [c[:2] for c in calls],
            "parents": [f"Parent={c[2]}" in header for c, header in zip(calls, sent)],
        }))
        """,
    )
    assert result == {
        "log": "",
        "sdk_classes": ["_InstrumentedClient", "_InstrumentedAsyncClient"],
        "sdk_records_nothing": True,
        "calls": [
            ["sync.internal", "http://sync.internal/s"],
            ["async.internal", "http://async.internal/a"],
        ],
        "parents": [True, True],
    }


def test_each_httpx_hop_and_each_resend_carries_its_own_subsegments_header() -> None:
    """A redirect's next request copies the previous hop's headers, and a Request sent again
    keeps the header written on it: the layer's own header is written anew each time (each hop
    names its own subsegment as the parent), while a header the caller set stands."""
    result = run_python(
        prelude=TRACED,
        code="""
        import json, os, socket
        import lambda_tracing
        from lambda_tracing.patches import patch_configured
        patch_configured(["httpx"])
        import httpx
        seen = []

        def answer(request):
            seen.append((request.url.path, request.headers.get("x-amzn-trace-id")))
            if request.url.path == "/a":
                return httpx.Response(307, headers={"location": "http://svc.internal/b"})
            return httpx.Response(200)


        def handler(event, context):
            with httpx.Client(transport=httpx.MockTransport(answer)) as client:
                client.get("http://svc.internal/a", follow_redirects=True)
                again = client.build_request("GET", "http://svc.internal/c")
                client.send(again)
                client.send(again)
                client.get("http://svc.internal/d", headers={"X-Amzn-Trace-Id": "Root=own"})

        lambda_tracing.trace_handler(handler)({}, None)
        document = json.loads(daemon.recv(65536).split(b"\\n", 1)[1])
        ids = [(c["http"]["request"]["url"].rsplit("/", 1)[-1], c["id"])
               for c in document["subsegments"]]
        print(json.dumps({
            "hops": [path for path, _ in seen],
            "own_parent": [
                header is not None and f"Parent={span_id};" in header
                for (_, header), (_, span_id) in zip(seen, ids)
            ],
            "caller_header": seen[-1][1],
        }))
        """,
    )
    assert result == {
        "hops": ["/a", "/b", "/c", "/c", "/d"],
        "own_parent": [True, True, True, True, False],
        "caller_header": "Root=own",
    }
