"""Local X-Ray: a daemon, a trace store and an X-Ray-compatible API on one machine."""

from .server import LocalXRay, main

__all__ = ["LocalXRay", "main"]
