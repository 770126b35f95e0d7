"""Handler the fixture wrapper swaps in; it calls the function's own handler (from the layer)."""

import importlib
import os


def handler(event, context):
    module, _, name = os.environ["ORIGINAL_HANDLER"].rpartition(".")
    result = getattr(importlib.import_module(module), name)(event, context)
    return {"wrapped_by": os.environ.get("WRAPPED_BY"), "inner": result}
