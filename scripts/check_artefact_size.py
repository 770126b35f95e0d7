"""Size gate for a built Lambda artefact: zip it as SAM would and fail above the limit.

python scripts/check_artefact_size.py DIR LIMIT_BYTES
"""

from __future__ import annotations

import io
import os
import sys
import zipfile
from pathlib import Path


def zipped_size(root: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(root))
    return buffer.tell()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root, limit = Path(argv[0]), int(argv[1])
    size = zipped_size(root)
    unzipped = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    verdict = "ok" if size <= limit else "TOO BIG"
    print(
        f"size gate: {os.path.basename(root.resolve())} zipped {size:,} B "
        f"(unzipped {unzipped:,} B), limit {limit:,} B: {verdict}"
    )
    return 0 if size <= limit else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
