"""A tiny stand-in for Lambda's Python runtime, for the layer's functional tests.

Run as the wrapper's "$@": imports `_HANDLER` (module.function) once, then invokes it once per
item of argv[1] (a JSON list of {"event": ..., "trace_header": ...}), setting _X_AMZN_TRACE_ID
for each as the runtime does, and prints one JSON report line: results, the environment it saw.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import uuid


class LambdaContext:
    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "fn")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}:live"
        )
        self.memory_limit_in_mb = 128


def main() -> None:
    module_name, function_name = os.environ["_HANDLER"].rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name.replace("/", ".")), function_name)
    results = []
    for invocation in json.loads(sys.argv[1]):
        header = invocation.get("trace_header")
        if header is None:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        else:
            os.environ["_X_AMZN_TRACE_ID"] = header
        request_id = str(uuid.uuid4())
        try:
            value = handler(invocation.get("event"), LambdaContext(request_id))
            results.append({"request_id": request_id, "return": value})
        except Exception as error:  # noqa: BLE001 - reported, as the runtime does
            results.append(
                {"request_id": request_id, "error": type(error).__name__, "message": str(error)}
            )
    import lambda_tracing

    print(
        json.dumps(
            {
                "results": results,
                "handler_env": os.environ.get("_HANDLER"),
                "user_handler_env": os.environ.get("LAMBDA_TRACING_HANDLER"),
                "lambda_tracing_file": lambda_tracing.__file__,
                "pythonpath": os.environ.get("PYTHONPATH"),
            },
            default=str,
        )
    )


if __name__ == "__main__":
    main()
