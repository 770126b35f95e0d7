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


def run_python(code: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
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
            "requests_wrappers": [type(requests.Session.__dict__[name]).__name__
                                  for name in ("request", "prepare_request")],
            "urlopen_wrapped_once": [callable(urlopen.__wrapped__),
                                     hasattr(urlopen.__wrapped__, "__wrapped__")],
            "api_call_wrappers": [type(api_call).__name__, type(api_call.__wrapped__).__name__,
                                  type(api_call.__wrapped__.__wrapped__).__name__],
        }}))
        """
    )
    assert result["accepted"] == ["botocore", "requests", "httpx", "urllib3"]  # grpc: unknown
    assert result["after_patching"] == []  # nothing imported just to patch it
    assert result["again"] == ["botocore", "requests", "httpx", "urllib3"]
    # boto3, requests, urllib3 imported and patched, yet the SDK waits for their first call.
    assert result["sdk_before_first_call"] is False
    assert result["deferred"] == [True, True]
    assert result["httpx_client"] == "_InstrumentedClient"
    assert result["requests_wrappers"] == ["FunctionWrapper", "FunctionWrapper"]
    assert result["urlopen_wrapped_once"] == [True, False]
    # Ours around aws-xray-sdk's around botocore's: each once.
    assert result["api_call_wrappers"] == ["FunctionWrapper", "FunctionWrapper", "function"]


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
                          "botocore": getattr(api_call, "lambda_tracing_deferred", False),
                          "urllib3": hasattr(urlopen, "__wrapped__")}))
        """
    )
    assert result == {
        "accepted": ["botocore", "urllib3"],
        "botocore": True,  # instrumented on its first call
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


def test_patching_at_start_up_loads_neither_wrapt_asyncio_nor_the_sdk() -> None:
    # What start-up costs a function: the post-import hook is the layer's own, and the SDK (with
    # wrapt, which its core imports) waits for a patched library's first call.
    result = run_python(
        """
        import json, sys
        heavy = lambda: [n for n in ("wrapt", "asyncio", "aws_xray_sdk") if n in sys.modules]
        import lambda_tracing
        from lambda_tracing.patches import patch_configured
        accepted = patch_configured(["botocore", "requests", "urllib3"])
        at_start_up = heavy()
        import urllib3, requests, botocore.client  # imported after start-up, as user code does
        after_imports = heavy()
        urlopen = urllib3.connectionpool.HTTPConnectionPool.urlopen
        prepare = requests.Session.prepare_request
        api_call = botocore.client.BaseClient._make_api_call
        requests.Session().prepare_request(requests.Request("GET", "http://example.invalid/"))
        print(json.dumps({
            "accepted": accepted,
            "at_start_up": at_start_up,
            "after_imports": after_imports,
            "urllib3": urlopen.__code__.co_filename.endswith("patches/urllib3.py"),
            "deferred": [getattr(f, "lambda_tracing_deferred", False) for f in (prepare, api_call)],
            "requests_after_first_call": type(requests.Session.__dict__["request"]).__name__,
            "after_first_call": heavy(),
        }))
        """
    )
    assert result == {
        "accepted": ["botocore", "requests", "urllib3"],
        "at_start_up": [],
        "after_imports": [],
        "urllib3": True,
        "deferred": [True, True],
        "requests_after_first_call": "FunctionWrapper",  # aws-xray-sdk's patcher, applied now
        # asyncio stays out even then: the layer pins wrapt 1.17 (2.x imports asyncio).
        "after_first_call": ["wrapt", "aws_xray_sdk"],
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


def test_deferred_patches_apply_once_and_call_through() -> None:
    from lambda_tracing.patches.hooks import on_first_call

    calls: list[tuple[str, int]] = []
    applied: list[int] = []

    class Base:
        def work(self, x: int) -> int:
            calls.append(("base", x))
            return x * 2

    class Child(Base):
        def work(self, x: int) -> int:
            calls.append(("child", x))
            return super().work(x) + 1

    original = Base.__dict__["work"]
    on_first_call(Base, ("work",), lambda: applied.append(1))
    assert Base.__dict__["work"] is not original
    assert Child().work(3) == 7 and Base().work(4) == 8
    assert calls == [("child", 3), ("base", 3), ("base", 4)]  # the override ran once
    assert applied == [1]
    assert Base.__dict__["work"] is original

    def broken() -> None:
        raise RuntimeError("patch failed")

    on_first_call(Base, ("work",), broken)
    assert Base().work(5) == 10  # a failing patch: the original runs, nothing raised
    assert Base.__dict__["work"] is original


@pytest.mark.parametrize("kind", ["plain closure", "functools.wraps", "wrapt"])
def test_a_wrapper_put_over_a_deferred_patch_stays_and_each_call_runs_once(kind: str) -> None:
    """Another patcher wraps the stand-in before the first call (aws-xray-sdk's patch_all, an
    APM agent's monkeypatch): its wrapper stays, ours goes on top, and each call reaches the
    original once, with or without a `__wrapped__` to follow."""
    import functools

    import wrapt
    from lambda_tracing.patches.hooks import on_first_call

    calls: list[str] = []

    class Base:
        def work(self, x: int) -> int:
            calls.append("original")
            return x * 2

    def ours() -> None:
        def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            calls.append("ours")
            return wrapped(*args, **kwargs)

        wrapt.wrap_function_wrapper(Base, "work", wrapper)

    on_first_call(Base, ("work",), ours)
    stand_in = Base.__dict__["work"]

    def theirs(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append("theirs")
        return stand_in(self, *args, **kwargs)

    if kind == "functools.wraps":
        theirs = functools.wraps(stand_in)(theirs)
    if kind == "wrapt":
        wrapt.wrap_function_wrapper(
            Base,
            "work",
            lambda wrapped, instance, args, kwargs: (
                calls.append("theirs"),
                wrapped(*args, **kwargs),
            )[1],
        )
    else:
        Base.work = theirs  # type: ignore[method-assign]
    assert Base().work(3) == 6
    assert calls == ["theirs", "original"]  # the first call: theirs, then the original
    calls.clear()
    assert Base().work(4) == 8
    assert calls == ["ours", "theirs", "original"]


def test_httpx_patched_by_the_sdks_patch_all_is_taken_over_once_it_finishes() -> None:
    """patch_all (Powertools' Tracer) imports httpx from inside the SDK's own httpx module:
    patching then failed with a logged traceback. Now the patch waits, and start-up's
    apply_waiting() points the SDK's httpx module at the layer."""
    result = run_python(
        """
        import io, json, logging
        stream = io.StringIO()
        logging.basicConfig(stream=stream, level=logging.WARNING)
        from lambda_tracing import patches
        from lambda_tracing.patches.layer_recorder import LAYER_RECORDER
        patches.patch_configured(["httpx"])
        from aws_xray_sdk.core import patch_all
        patch_all()
        patches.apply_waiting()
        import sys
        sdk_httpx = sys.modules["aws_xray_sdk.ext.httpx.patch"]
        print(json.dumps({
            "log": stream.getvalue(),
            "through_layer": sdk_httpx.xray_recorder is LAYER_RECORDER,
        }))
        """
    )
    assert result == {"log": "", "through_layer": True}
