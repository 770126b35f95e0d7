"""What Lambda gives a Python function: environment variables, trace headers, a context object.

Used by the driver to build each worker's environment and by the mini runtime to build
each invocation, so every variant sees the same simulated execution environment.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from pathlib import Path

BENCHMARKS_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCHMARKS_DIR.parent
FUNCTIONS_DIR = BENCHMARKS_DIR / "functions"
LAYER_DIR = REPO_ROOT / "layers" / "tracing"
LAYER_WRAPPER = LAYER_DIR / "lambda-tracing"
FUNCTION_NAME = "bench-function"
REGION = "us-east-1"
ACCOUNT = "123456789012"


def lambda_environment(
    handler: str, daemon_address: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment a Lambda execution environment starts with (plus the bench's own knobs)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    }
    env.update(
        {
            "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": str(FUNCTIONS_DIR),
            "LAMBDA_RUNTIME_DIR": str(BENCHMARKS_DIR),
            "PYTHONPATH": os.pathsep.join([str(BENCHMARKS_DIR), str(LAYER_DIR)]),
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION_NAME}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_XRAY_DAEMON_ADDRESS": daemon_address,
            "_AWS_XRAY_DAEMON_ADDRESS": daemon_address.rsplit(":", 1)[0],
            "_AWS_XRAY_DAEMON_PORT": daemon_address.rsplit(":", 1)[1],
            "POWERTOOLS_SERVICE_NAME": "bench",
            "TZ": ":UTC",
        }
    )
    if extra:
        env.update(extra)
    return env


def new_trace_header(sampled: bool = True) -> str:
    """A fresh `_X_AMZN_TRACE_ID` as Lambda sets it for one invocation."""
    root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    parent = secrets.token_hex(8)
    return f"Root={root};Parent={parent};Sampled={1 if sampled else 0};Lineage=1:abcd1234:0"


def new_context(function_arn: str | None = None) -> object:
    """A context object built by the real runtime's class, as awslambdaric builds it."""
    from awslambdaric.lambda_context import LambdaContext

    arn = function_arn or f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION_NAME}"
    deadline_ms = int(time.time() * 1000) + 30_000
    return LambdaContext(str(uuid.uuid4()), None, None, deadline_ms, arn)
