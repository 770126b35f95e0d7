"""Read X-Ray's service graph for a window, in chunks, through boto3's paginator."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from service_map.errors import GraphReadError


def chunks(start: datetime, end: datetime, chunk: timedelta) -> list[tuple[datetime, datetime]]:
    """[start, end) cut into consecutive pieces of at most ``chunk``."""
    if chunk <= timedelta(0):
        raise ValueError(f"chunk must be positive, got {chunk}")
    if end < start:
        raise ValueError(f"window end {end} is before its start {start}")
    pieces = []
    while start < end:
        piece_end = min(start + chunk, end)
        pieces.append((start, piece_end))
        start = piece_end
    return pieces


def read_graph(
    client: Any,
    start: datetime,
    end: datetime,
    group: str,
    chunk: timedelta = timedelta(hours=6),
) -> list[dict]:
    """Every GetServiceGraph page for ``group`` over [start, end), one chunk at a time.

    ``client`` is a boto3 X-Ray client; give it botocore's adaptive retry mode so throttled
    calls are retried (the handler does). Pages are returned as the API gives them, minus
    ResponseMetadata, so ``summary.summarise`` can merge them. A call that still fails after
    the client's retries raises ``GraphReadError`` carrying the pages read before it.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    paginator = client.get_paginator("get_service_graph")
    pages: list[dict] = []
    for piece_start, piece_end in chunks(start, end, chunk):
        tokens: set[str] = set()
        try:
            for page in paginator.paginate(
                StartTime=piece_start, EndTime=piece_end, GroupName=group
            ):
                page.pop("ResponseMetadata", None)
                pages.append(page)
                # botocore stops a token given twice in a row; a longer cycle (A, B, A...)
                # would be read, and counted, until the function times out.
                token = page.get("NextToken")
                if token is not None and token in tokens:
                    raise GraphReadError(
                        f"GetServiceGraph for group {group!r} from {piece_start.isoformat()} "
                        f"to {piece_end.isoformat()} gave NextToken {token!r} a second time; "
                        "stopped before reading pages again",
                        pages,
                    )
                if token is not None:
                    tokens.add(token)
        except (BotoCoreError, ClientError) as error:
            raise GraphReadError(
                f"GetServiceGraph for group {group!r} from {piece_start.isoformat()} "
                f"to {piece_end.isoformat()} failed: {error}",
                pages,
            ) from error
    return pages
