"""The layer's own imports cannot be shadowed by the function's task root.

Lambda puts the task root first on sys.path, so a function's `contextvars.py` or `typing.py`
is what `import contextvars` finds: the user's imports should see it (as without the layer),
the layer's must not. Inside `layer_imports()` the task root (and the working directory) is off
sys.path; afterwards, the modules it hid and the layer imported meanwhile are taken back out of
sys.modules, so the user's own import still finds the user's module. Only `sys` and `os`
(built in and frozen: never shadowed) are imported here.
"""

from __future__ import annotations

import os
import sys

_root_names: dict[str, frozenset[str]] = {}


def _top_level_names(directory: str) -> frozenset[str]:
    """Module names a directory provides: `x.py`, `x/`, `x.cpython-311-....so`."""
    names = _root_names.get(directory)
    if names is None:
        try:
            entries = os.listdir(directory)
        except OSError:
            entries = []
        names = _root_names[directory] = frozenset(entry.partition(".")[0] for entry in entries)
    return names


class layer_imports:  # noqa: N801 - used as a context manager, named like one
    """`with layer_imports(): import ...` - the layer's imports, past the task root."""

    __slots__ = ("_hidden", "_path", "_before")

    def __enter__(self) -> layer_imports:
        root = os.environ.get("LAMBDA_TASK_ROOT") or ""
        try:
            cwd = os.getcwd()
        except OSError:
            cwd = ""
        hidden = {entry for entry in ("", root, cwd) if entry}
        self._hidden = [
            entry for entry in sys.path if entry == "" or os.path.abspath(entry) in hidden
        ]
        self._path = list(sys.path)
        self._before = set(sys.modules) if self._hidden else set()
        if self._hidden:
            sys.path[:] = [entry for entry in sys.path if entry not in self._hidden]
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._hidden:
            return
        sys.path[:] = self._path
        shadowing = set().union(
            *(_top_level_names(os.path.abspath(entry) if entry else ".") for entry in self._hidden)
        )
        for name in set(sys.modules) - self._before:
            if name.partition(".")[0] in shadowing and not name.startswith("lambda_tracing"):
                del sys.modules[name]
