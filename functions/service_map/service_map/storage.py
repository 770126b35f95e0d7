"""Summaries in S3: an idempotent key per group and window, and a latest.json pointer."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

SUMMARY_FILE = "summary.json"
log = logging.getLogger(__name__)


class SummaryStore:
    """``s3`` is a boto3 S3 client. Layout under ``prefix``:
    ``<group>/YYYY/MM/DD/<start>-<end>/{summary.json,map.mmd,map.svg,map.html}`` and
    ``<group>/latest.json``. The same window always maps to the same keys, so re-running a
    window overwrites it rather than adding a copy."""

    def __init__(self, s3: Any, bucket: str, prefix: str) -> None:
        self.s3, self.bucket, self.prefix = s3, bucket, prefix

    def window_prefix(self, group: str, start: datetime, end: datetime) -> str:
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        stamp = "%Y%m%dT%H%M%SZ"
        return (
            f"{self._group_prefix(group)}{start:%Y/%m/%d}/"
            f"{start.strftime(stamp)}-{end.strftime(stamp)}/"
        )

    def latest_key(self, group: str) -> str:
        return f"{self._group_prefix(group)}latest.json"

    def write_window(
        self, group: str, start: datetime, end: datetime, files: dict[str, tuple[str, str]]
    ) -> dict[str, str]:
        """Put each ``{file name: (text, content type)}`` beside the others; return the keys."""
        prefix = self.window_prefix(group, start, end)
        keys = {}
        for name, (text, content_type) in files.items():
            key = prefix + name
            # backslashreplace: a lone surrogate in a name (valid JSON, not UTF-8) is written
            # as its JSON escape instead of failing the whole window.
            body = text.encode("utf-8", "backslashreplace")
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
            keys[name] = key
        return keys

    def read_latest(self, group: str) -> dict | None:
        """The latest.json pointer, or None when there is none yet (or it is unreadable)."""
        pointer = self._read_json(self.latest_key(group))
        return pointer if isinstance(pointer, dict) else None

    def write_latest(self, group: str, summary: dict, keys: dict[str, str]) -> None:
        pointer = {
            "group": group,
            "window": summary["window"],
            "complete": summary["complete"],
            "summary_key": keys[SUMMARY_FILE],
            "files": keys,
        }
        self.s3.put_object(
            Bucket=self.bucket,
            Key=self.latest_key(group),
            Body=json.dumps(pointer, indent=2).encode("utf-8"),
            ContentType="application/json",
        )

    def read_summary(self, group: str, start: datetime, end: datetime) -> dict | None:
        """The summary written for exactly this window, or None."""
        found = self._read_json(self.window_prefix(group, start, end) + SUMMARY_FILE)
        return found if isinstance(found, dict) else None

    def read_previous(self, group: str, start: datetime, end: datetime) -> dict | None:
        """The summary to compare the window [start, end) with: the complete one of the window
        just before it, else the one latest.json points at if that ended by ``start``."""
        previous = self.read_summary(group, start - (end - start), start)
        if previous is not None and previous.get("complete") is not False:
            return previous  # (an incomplete one would report whatever it missed as gone)
        pointer = self.read_latest(group)
        if pointer is None or not isinstance(pointer.get("summary_key"), str):
            return None
        pointer_end = latest_end(pointer)
        if pointer_end is None or pointer_end > start:
            return None
        found = self._read_json(pointer["summary_key"])
        return found if isinstance(found, dict) else None

    def _group_prefix(self, group: str) -> str:
        return f"{self.prefix}{quote(group, safe='')}/"

    def _read_json(self, key: str) -> Any:
        from botocore.exceptions import ClientError

        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404"):
                return None
            if code in ("AccessDenied", "403"):
                # Without s3:ListBucket, S3 answers a missing key with 403, not 404. Reading
                # back only feeds changes and catch-up, so carry on; writes still fail loudly.
                log.warning("no access to s3://%s/%s, read as missing: %s", self.bucket, key, code)
                return None
            raise
        try:
            return json.loads(body)
        except ValueError:
            return None  # a damaged object reads as missing: it is rewritten, not trusted


def latest_end(pointer: dict | None) -> datetime | None:
    """The end of the window a latest.json pointer names, or None."""
    window = pointer.get("window") if isinstance(pointer, dict) else None
    end = window.get("end") if isinstance(window, dict) else None
    if not isinstance(end, str):
        return None
    try:
        moment = datetime.fromisoformat(end)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
