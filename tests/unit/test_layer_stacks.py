"""stacks.user_frames: an exception's frames as X-Ray stack entries, read without user code and
without source files."""

from __future__ import annotations

import importlib.util
import linecache
from pathlib import Path
from types import ModuleType

from lambda_tracing.stacks import user_frames

SOURCE = """
def outer():
    inner()


def inner():
    raise ValueError("boom")
"""


def _module(tmp_path: Path, name: str) -> ModuleType:
    path = tmp_path / f"{name}.py"
    path.write_text(SOURCE)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _raised(module: ModuleType) -> BaseException:
    try:
        module.outer()
    except ValueError as error:
        return error
    raise AssertionError("outer() did not raise")


def test_frames_are_path_line_and_name_innermost_last(tmp_path: Path) -> None:
    module = _module(tmp_path, "stacks_sample")
    frames = user_frames(_raised(module))
    path = str(tmp_path / "stacks_sample.py")
    assert [tuple(frame) for frame in frames[-2:]] == [(path, 3, "outer"), (path, 7, "inner")]
    assert [frame[2] for frame in user_frames(_raised(module), limit=1)] == ["inner"]
    assert list(user_frames(_raised(module), limit=0)) == []


def test_no_source_file_is_read(tmp_path: Path) -> None:
    # Indexed as aws-xray-sdk's Throwable indexes each entry; a traceback.FrameSummary would
    # read its file's lines through linecache on that (an error in a big module paid for it).
    module = _module(tmp_path, "stacks_unread")
    path = str(tmp_path / "stacks_unread.py")
    error = _raised(module)
    linecache.checkcache(path)
    linecache.cache.pop(path, None)
    entries = [(entry[0], entry[1], entry[2]) for entry in user_frames(error)]
    assert (path, 7, "inner") in entries
    assert path not in linecache.cache


def test_a_class_getattribute_is_not_run(tmp_path: Path) -> None:
    calls: list[str] = []

    class Watching(Exception):
        def __getattribute__(self, name: str) -> object:
            calls.append(name)
            return super().__getattribute__(name)

    try:
        raise Watching("watched")
    except Watching as error:
        frames = user_frames(error)
    assert frames and frames[-1][2] == "test_a_class_getattribute_is_not_run"
    assert calls == []
