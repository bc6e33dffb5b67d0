"""One landed file streamed into its Delta table: the category's rows replaced in one commit, bad lines quarantined.

Memory does not grow with the file (the Electronics reviews are 22 GB): `read_chunks` parses bounded chunks and
`DeltaStore.overwrite_stream` writes them as they come. Re-ingesting a file gives the same rows, never doubled.

Nothing is committed when the file is broken (too many rejects), has no usable record (`EmptyFile`), or would
leave the category with under half of its previous rows (`ShrinkRefused`, unless `allow_shrink`): each raises
inside the stream, so the category keeps its previous version.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from foundation.progress import Progress
from foundation.storage.delta_tables import DeltaStore, Window, WriteResult
from foundation.storage.quarantine import Quarantine, TooManyRejects
from scrapers.amazon.jsonl import CHUNK_BYTES, ChunkResult, read_chunks

MAX_REJECT_SHARE = 0.05


class EmptyFile(ValueError):
    """The landed file holds no usable record; ingesting it would empty the category."""


# The Delta writer buffers a Parquet file until it reaches this size: with the chunk size, it bounds peak memory.
TARGET_FILE_BYTES = 32 << 20


def ingest_file(
    store: DeltaStore,
    quarantine: Quarantine,
    path: Path,
    kind: str,
    category: str,
    chunk_bytes: int = CHUNK_BYTES,
    log: Any = None,
    allow_shrink: bool = False,
    chunks: Iterable[ChunkResult] | None = None,
) -> tuple[WriteResult, dict[str, Any]]:
    """Stream `path` into `store`, replacing the category's rows in one commit; rejects go to `quarantine`
    (with the line's byte offset in the file, decompressed for `.gz`).

    Too many rejects (`TooManyRejects`), an empty file (`EmptyFile`) or a much smaller file than the stored
    category (`ShrinkRefused`, unless `allow_shrink`) fail the stream before the commit, so the category keeps
    its rows. Returns the write and the file's stats: lines, blank_lines, bytes, seconds, rating_counts (reviews).

    `chunks` replaces `read_chunks(path, ...)` with the same chunks parsed elsewhere, in file order (a Ray cluster:
    scrapers/amazon/distributed.py); quarantine, checks and the commit stay here.
    """
    path = Path(path)
    stats: dict[str, Any] = {"lines": 0, "blank_lines": 0, "bytes": 0, "rating_counts": Counter()}
    started = time.perf_counter()
    progress = Progress(log, f"{path.name} lines", every_seconds=15.0)

    def batches() -> Iterator[pa.RecordBatch]:
        rows = 0
        for chunk in read_chunks(path, kind, category, chunk_bytes) if chunks is None else chunks:
            progress.advance(chunk.lines)
            stats["lines"] += chunk.lines
            stats["blank_lines"] += chunk.blank_lines
            for reject in chunk.rejects:
                quarantine.reject(
                    reject.raw, reject.reason, f"{path.name}:{reject.line}", stats["bytes"] + reject.offset
                )
            stats["bytes"] += chunk.bytes_read
            rows += chunk.table.num_rows
            if stats["lines"] >= 100_000:  # fail early on a file that is broken, not merely dirty
                check_share()
            if kind == "reviews":
                for entry in pc.value_counts(chunk.table["rating"]).to_pylist():
                    stats["rating_counts"][entry["values"]] += entry["counts"]
            yield from chunk.table.to_batches()
        check_share()
        if not rows:
            stopped.append(
                EmptyFile(
                    f"{path.name} holds no usable record ({stats['lines']} lines, {stats['blank_lines']} blank); "
                    f"the category {category!r} keeps its previous rows"
                )
            )
            raise stopped[-1]

    stopped: list[ValueError] = []

    def check_share() -> None:
        try:
            quarantine.check_share(stats["lines"], MAX_REJECT_SHARE)
        except TooManyRejects as error:
            stopped.append(error)  # raising inside the stream aborts the write; re-raised below, unwrapped
            raise

    window = Window.of("category", category)
    try:
        result = store.overwrite_stream(
            batches(), window, target_file_size=TARGET_FILE_BYTES, allow_shrink=allow_shrink
        )
    except Exception:
        if stopped:
            raise stopped[0] from None
        raise
    progress.done()
    stats["seconds"] = time.perf_counter() - started
    return result, stats
