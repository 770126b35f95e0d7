"""Bytecode gate for a built layer: run by each runtime's interpreter, it fails when a module of
DIR has no usable bytecode for that interpreter.

    .tools/python3.13/bin/python3.13 scripts/check_bytecode.py DIR

Lambda mounts a layer read-only, so a module without a valid .pyc is compiled again at every cold
start. Usable means what the import system itself accepts without the source's timestamp:
`__pycache__/<name>.<cache tag>.pyc` with this interpreter's magic number, checked-hash flags
(zipping keeps no timestamps) and the hash of the source as it is now.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

CHECKED_HASH_FLAGS = 0b11  # hash-based, check_source (PEP 552)


def problem(source: Path) -> str | None:
    """Why `source` has no usable bytecode for this interpreter, or None."""
    cached = Path(importlib.util.cache_from_source(str(source)))
    try:
        data = cached.read_bytes()
    except OSError:
        return "no bytecode"
    if data[:4] != importlib.util.MAGIC_NUMBER:
        return "bytecode of another Python version"
    if int.from_bytes(data[4:8], "little") != CHECKED_HASH_FLAGS:
        return "not checked-hash bytecode"
    if data[8:16] != importlib.util.source_hash(source.read_bytes()):
        return "bytecode of an older source"
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(argv[0])
    sources = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    problems = [(p, why) for p in sources if (why := problem(p))]
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for path, why in problems[:20]:
        print(f"  {path.relative_to(root)}: {why}")
    verdict = f"{len(problems)} without" if problems else "ok"
    print(f"bytecode gate: {len(sources)} modules, Python {version}: {verdict}")
    return 1 if problems or not sources else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
