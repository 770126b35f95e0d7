"""Local Lambda: the Runtime API, awslambdaric processes, Lambda's X-Ray segments, event wiring.

- `template`: reads template.yaml (short-form tags, Globals) and resolves Ref/GetAtt/Sub/Join
  to local values; `aws_resources` starts moto server and creates the tables, queues, topics
  and buckets those values name; `layers` builds each layer for this machine (HOST=1).
- `runtime_api` + `environment`: one execution environment = a Runtime API server on loopback
  and `python -m awslambdaric` behind the function's AWS_LAMBDA_EXEC_WRAPPER; reused while
  warm, killed on timeout, init errors and crashes reported as Lambda reports them.
- `local_lambda`: pools environments per function, builds each function's environment
  variables, and sends the AWS::Lambda and AWS::Lambda::Function segments (`xray_segments`)
  and the START/END/REPORT lines (`platform_log`).
- `api_front` (API Gateway proxy events, stage segment) and `sqs_source` (event source
  mappings polling moto) turn outside traffic into invocations; `local_app` runs them all.
- `processes`: every child in its own process group, stopped at exit and on signals.

`main(argv)` is `lambda-tracing local invoke FUNCTION --event FILE [--template template.yaml]`.
"""

from __future__ import annotations

from lambda_tracing_local.runtime.invoke_command import main

__all__ = ["main"]
