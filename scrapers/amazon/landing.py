"""The landing folder contract: where Amazon Reviews 2023 files are dropped and what they are called.

    <landing>/amazon/<Category>.jsonl[.gz]        reviews of one category
    <landing>/amazon/meta_<Category>.jsonl[.gz]   item metadata of the same category

Those are the names the 2023 release uses. Anything else (a `.tmp` being copied, a README) is ignored, so copy
to a temporary name and rename when done. The sandbox writes its files with `file_name` too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from foundation.storage.filesystems import ObjectInfo

LANDING_SOURCE = "amazon"  # files land in storage.landing("amazon")
LANDING_FILE = re.compile(r"^(?P<meta>meta_)?(?P<category>[A-Za-z0-9][A-Za-z0-9_\-]*)\.jsonl(?:\.gz)?$")
KINDS = ("reviews", "items")


def file_name(kind: str, category: str, compressed: bool = False) -> str:
    """`<Category>.jsonl[.gz]` for reviews, `meta_<Category>.jsonl[.gz]` for item metadata."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; known: {KINDS}")
    stem = category if kind == "reviews" else f"meta_{category}"
    return f"{stem}.jsonl.gz" if compressed else f"{stem}.jsonl"


def landed_file(listing: Iterable[ObjectInfo], kind: str, category: str) -> ObjectInfo | None:
    """The landed file of a category and kind in a landing listing (`LandingFolder.files()`), plain or gzip
    (both present: the newer one); None if absent."""
    names = {file_name(kind, category, gz) for gz in (False, True)}
    found = [f for f in listing if f.name in names]
    return max(found, key=lambda f: f.mtime_ns) if found else None


def landed_files(listing: Iterable[ObjectInfo]) -> list[tuple[ObjectInfo, str, str]]:
    """(file, kind, category) of every file in a landing listing named like an Amazon Reviews 2023 file."""
    found = []
    for file in sorted(listing, key=lambda f: f.name):
        if match := LANDING_FILE.match(file.name):
            found.append((file, "items" if match["meta"] else "reviews", match["category"]))
    return found
