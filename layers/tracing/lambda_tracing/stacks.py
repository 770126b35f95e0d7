"""Tracebacks as X-Ray wants them: the user's frames, not the layer's wrapper frames."""

from __future__ import annotations

import os
import traceback

_OUR_DIRECTORY = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_frames(error: BaseException, limit: int = 10) -> traceback.StackSummary:
    """The innermost `limit` frames of `error`'s traceback, without lambda_tracing's own.

    Only the kept frames have their source line read, so a deep RecursionError stays cheap."""
    if limit <= 0:
        return traceback.StackSummary()
    walked = [
        (frame, line)
        for frame, line in traceback.walk_tb(error.__traceback__)
        if not frame.f_code.co_filename.startswith(_OUR_DIRECTORY)
    ]
    return traceback.StackSummary.extract(iter(walked[-limit:]))
