"""The handler Lambda calls when the layer's wrapper is in use: the wrapper sets
`_HANDLER=lambda_tracing.handler.handler` and moves the user's own to LAMBDA_TRACING_HANDLER.

Importing this module (Lambda's init phase) imports and wraps the user's handler once; see
lambda_tracing.startup.
"""

from __future__ import annotations

from lambda_tracing.startup import build_handler

handler = build_handler()
