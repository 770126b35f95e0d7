"""What an HTTP client's call is named, for every HTTP client patched (requests, httpx): the
URL's host, as aws-xray-sdk's patchers name it, and its `UNKNOWN HOST` when the URL has none."""

from __future__ import annotations

from urllib.parse import urlsplit

UNKNOWN_HOST = "UNKNOWN HOST"


def host_name(url: str) -> str:
    return urlsplit(url).hostname or UNKNOWN_HOST
