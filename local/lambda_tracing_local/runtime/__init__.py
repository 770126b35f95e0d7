"""Local Lambda: the Runtime API, awslambdaric processes, Lambda's X-Ray segments, event wiring.

`main(argv)` is `lambda-tracing local invoke FUNCTION --event FILE [--template template.yaml]`.
"""

from __future__ import annotations

from lambda_tracing_local.runtime.invoke_command import main

__all__ = ["main"]
