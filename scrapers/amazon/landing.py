"""The landing folder contract: where Amazon Reviews 2023 files are dropped and what they are called.

    <landing>/amazon/<Category>.jsonl[.gz]        reviews of one category
    <landing>/amazon/meta_<Category>.jsonl[.gz]   item metadata of the same category

Those are the names the 2023 release uses. Anything else (a `.tmp` being copied, a README) is ignored, so copy
to a temporary name and rename when done. The sandbox writes its files with `file_name` too.
"""

from __future__ import annotations

import re
from pathlib import Path

LANDING_SOURCE = "amazon"  # files land in storage.landing_path("amazon")
LANDING_FILE = re.compile(r"^(?P<meta>meta_)?(?P<category>[A-Za-z0-9][A-Za-z0-9_\-]*)\.jsonl(?:\.gz)?$")
KINDS = ("reviews", "items")


def file_name(kind: str, category: str, compressed: bool = False) -> str:
    """`<Category>.jsonl[.gz]` for reviews, `meta_<Category>.jsonl[.gz]` for item metadata."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; known: {KINDS}")
    stem = category if kind == "reviews" else f"meta_{category}"
    return f"{stem}.jsonl.gz" if compressed else f"{stem}.jsonl"


def landed_file(folder: Path, kind: str, category: str) -> Path | None:
    """The landed file of a category and kind, plain or gzip (both present: the newer one); None if absent."""
    found = [folder / file_name(kind, category, gz) for gz in (False, True)]
    found = [p for p in found if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime_ns) if found else None


def landed_files(folder: Path) -> list[tuple[Path, str, str]]:
    """(path, kind, category) of every file in `folder` named like an Amazon Reviews 2023 file."""
    found = []
    for path in sorted(folder.iterdir()):
        match = LANDING_FILE.match(path.name)
        if match and path.is_file():
            found.append((path, "items" if match["meta"] else "reviews", match["category"]))
    return found
