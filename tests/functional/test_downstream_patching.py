"""patch_configured: libraries are patched on their first import, not imported to be patched;
patching is idempotent and a failing patch never breaks the user's import. Each check runs in a
fresh interpreter, since patches are process-wide."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

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
        import httpx, requests, urllib3, botocore.client
        again = patch_configured(["botocore", "requests", "httpx", "urllib3"])
        urlopen = urllib3.connectionpool.HTTPConnectionPool.__dict__["urlopen"]
        api_call = botocore.client.BaseClient.__dict__["_make_api_call"]
        print(json.dumps({{
            "accepted": accepted,
            "after_patching": after_patching,
            "again": again,
            "httpx_client": httpx.Client.__name__,
            "requests_wrapped": hasattr(requests.Session.request, "__wrapped__"),
            "urlopen_wrappers": [type(urlopen).__name__, type(urlopen.__wrapped__).__name__],
            "api_call_wrappers": [type(api_call).__name__, type(api_call.__wrapped__).__name__,
                                  type(api_call.__wrapped__.__wrapped__).__name__],
        }}))
        """
    )
    assert result["accepted"] == ["botocore", "requests", "httpx", "urllib3"]  # grpc: unknown
    assert result["after_patching"] == []  # nothing imported just to patch it
    assert result["again"] == ["botocore", "requests", "httpx", "urllib3"]
    assert result["httpx_client"] == "_InstrumentedClient"
    assert result["requests_wrapped"] is True
    assert result["urlopen_wrappers"] == ["FunctionWrapper", "function"]  # wrapped once
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
                          "botocore": type(api_call.__wrapped__).__name__,
                          "urllib3": type(urlopen).__name__}))
        """
    )
    assert result == {
        "accepted": ["botocore", "urllib3"],
        "botocore": "FunctionWrapper",
        "urllib3": "FunctionWrapper",
    }


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
