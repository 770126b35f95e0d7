"""Fails at import, so the runtime reports an init error."""

raise RuntimeError("missing configuration at import")


def handler(event, context):  # pragma: no cover - never reached
    return None
