"""Print pinned requirements from pyproject.toml, the one place versions live.

python scripts/pins.py artefact layer      -> requirements of the tracing layer
python scripts/pins.py tool sam            -> requirements of a tool venv
python scripts/pins.py runtime-tests layer -> what the layer's tests need on Lambda's Pythons
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[\[=<>!~; ]", requirement, maxsplit=1)[0].lower()


def pins(kind: str, name: str) -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    section = config["tool"]["lambda-tracing"]
    if kind == "tool":
        return list(section["tools"][name])
    if kind not in ("artefact", "runtime-tests"):
        raise SystemExit(f"unknown kind {kind!r}: use 'artefact', 'tool' or 'runtime-tests'")
    pinned = {_name(r): r for r in config["project"]["dependencies"]}
    if kind == "runtime-tests":
        dev = config["project"]["optional-dependencies"]["dev"]
        pinned.update({_name(r): r for r in dev})
    wanted = section["artefacts" if kind == "artefact" else "runtime-tests"][name]
    missing = [w for w in wanted if _name(w) not in pinned]
    if missing:
        raise SystemExit(f"not pinned in pyproject.toml: {', '.join(missing)}")
    return [pinned[_name(w)] for w in wanted]


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    print("\n".join(pins(sys.argv[1], sys.argv[2])))
