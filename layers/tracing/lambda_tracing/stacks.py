"""Tracebacks as X-Ray wants them: the user's frames, not the layer's wrapper frames."""

from __future__ import annotations

import os
import traceback
from types import TracebackType

_OUR_DIRECTORY = os.path.dirname(os.path.abspath(__file__)) + os.sep
# An exception's traceback read through BaseException's own slot: a class's __getattribute__
# (or an overridden with_traceback) is user code and must not run.
traceback_of = BaseException.__dict__["__traceback__"].__get__
with_traceback = BaseException.with_traceback


def user_frames(error: BaseException, limit: int = 10) -> list[tuple[str, int, str]]:
    """The innermost `limit` frames of `error`'s traceback, without lambda_tracing's own, as
    (path, line number, function name): what an X-Ray stack entry holds. No source line is
    read (a traceback.FrameSummary reads its whole file through linecache when indexed), so
    an error costs no file reads and a deep RecursionError stays cheap."""
    if limit <= 0:
        return []
    walked = [
        (code.co_filename, line, code.co_name)
        for code, line in (
            (frame.f_code, line) for frame, line in traceback.walk_tb(traceback_of(error))
        )
        if not code.co_filename.startswith(_OUR_DIRECTORY)
    ]
    return walked[-limit:]


# Files of the layer's own wrappers that live elsewhere: aws-xray-sdk's patch modules, when
# the layer (not the user) applied them.
_adopted_files: set[str] = set()


def treat_as_ours(filename: str) -> None:
    """Frames from `filename` are the layer's: cut out of the user's tracebacks too."""
    _adopted_files.add(filename)


_IMPORTLIB_FILES = ("<frozen importlib._bootstrap>", "<frozen importlib._bootstrap_external>")
# Where an `import` statement (C) enters importlib: CPython cuts such a run of importlib frames
# out of a traceback once it reaches the module's code (`_call_with_frames_removed`).
_C_IMPORT_ENTRIES = ("_find_and_load", "_handle_fromlist")


def without_layer_frames(traceback_: TracebackType | None) -> TracebackType | None:
    """`traceback_` relinked to skip lambda_tracing's own frames (wherever they are: the
    wrapper's, a patched library's, the cold-start import timer's), so the runtime reports the
    user's frames only. The traceback objects are reused, not copied.

    The import timer's frame sits inside importlib's own run of frames and so stops CPython from
    cutting that run out of an `import` statement's traceback; the run before it is cut here."""
    kept: list[TracebackType] = []
    entry = traceback_
    while entry is not None:
        filename = entry.tb_frame.f_code.co_filename
        if filename.startswith(_OUR_DIRECTORY) or filename in _adopted_files:
            _drop_split_import_run(kept)
        else:
            kept.append(entry)
        entry = entry.tb_next
    for current, following in zip(kept, kept[1:], strict=False):
        current.tb_next = following
    if kept:
        kept[-1].tb_next = None
    return kept[0] if kept else None


def _drop_split_import_run(kept: list[TracebackType]) -> None:
    start = len(kept)
    while start and kept[start - 1].tb_frame.f_code.co_filename in _IMPORTLIB_FILES:
        start -= 1
    if start < len(kept) and kept[start].tb_frame.f_code.co_name in _C_IMPORT_ENTRIES:
        del kept[start:]
