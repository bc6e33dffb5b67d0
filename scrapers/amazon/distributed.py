"""Amazon JSON-lines parsed on a Ray cluster (foundation/compute.py), chunk for chunk as `read_chunks` does.

The driver plans the chunks and the workers parse them with the same `parse_review_chunk` / `parse_item_chunk`,
so every line is judged exactly as in-process. The chunks are the ones `iter_line_chunks` cuts (each ends at the
last newline before a multiple of `chunk_bytes`), because the chunk decides whether a line goes through Arrow's
parser or the line-by-line fallback. A plain file is planned from a few reads near each cut and each worker
reads its own byte range (from a shared folder or, through `pyarrow.fs`, an object store); a `.gz` file cannot
be split, so the driver decompresses it and ships the chunks, a few cluster-waves at a time (bounded memory).

Workers number lines from 1 within their chunk; the driver renumbers them as it receives the chunks in file
order (it knows each chunk's line count only then), so the file is read once.

Daft's own JSON reader was measured on the same sample (benchmarks/bench_distributed.py) and is not used: it
infers or casts types its own way (a bad line is coerced or fails the whole scan, with no line and reason),
while the quarantine needs each bad line with its line number, offset and reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from foundation.storage.filesystems import filesystem
from scrapers.amazon.jsonl import (
    CHUNK_BYTES,
    ChunkResult,
    iter_line_chunks,
    open_for_chunks,
    parse_item_chunk,
    parse_review_chunk,
)

if TYPE_CHECKING:  # workers unpickle `parse_unit` from this module: it must not import Dagster
    from foundation.compute import Engine

_SCAN_BYTES = 1 << 20  # read backwards from a cut in steps of this size to find its newline


@dataclass(frozen=True)
class ChunkUnit:
    """One chunk of a file: a byte range the worker reads, or (for `.gz`) the bytes themselves."""

    uri: str
    kind: str
    category: str
    source_file: str
    start: int = 0
    end: int = 0
    data: bytes | None = None


def plan_ranges(uri: str, chunk_bytes: int = CHUNK_BYTES) -> list[tuple[int, int]]:
    """(start, end) byte ranges of the chunks `iter_line_chunks` cuts from an uncompressed file: each ends after
    the last newline before a multiple of `chunk_bytes` (a line longer than that spans several multiples)."""
    fs, path = filesystem(uri)
    size = fs.get_file_info(path).size
    ranges: list[tuple[int, int]] = []
    start = 0
    with fs.open_input_file(path) as f:
        multiple = chunk_bytes
        while multiple <= size:
            cut = _last_newline_end(f, start, multiple)
            if cut > start:
                ranges.append((start, cut))
                start = cut
            multiple += chunk_bytes
    if start < size:
        ranges.append((start, size))
    return ranges


def _last_newline_end(f: pa.NativeFile, low: int, high: int) -> int:
    """Position after the last newline in [low, high), or `low` when there is none."""
    while high > low:
        begin = max(low, high - _SCAN_BYTES)
        at = f.read_at(high - begin, begin).rfind(b"\n")
        if at >= 0:
            return begin + at + 1
        high = begin
    return low


def parse_unit(unit: ChunkUnit) -> ChunkResult:
    """On a worker: the chunk parsed by the project's parser, lines numbered from 1 within the chunk."""
    data = unit.data
    if data is None:
        fs, path = filesystem(unit.uri)
        with fs.open_input_file(path) as f:
            data = f.read_at(unit.end - unit.start, unit.start)
        if not data.endswith(b"\n"):  # the file's last line without a newline: `iter_line_chunks` adds one
            data += b"\n"
    parse = parse_review_chunk if unit.kind == "reviews" else parse_item_chunk
    return parse(1, data, unit.category, unit.source_file)


def renumbered(result: ChunkResult, first_line: int) -> ChunkResult:
    """`result` with its lines numbered from `first_line` (its chunk's first line in the file)."""
    shift = first_line - 1
    if shift:
        index = result.table.schema.get_field_index("source_line")
        lines = pc.add(result.table["source_line"], pa.scalar(shift, pa.int64()))
        result.table = result.table.set_column(index, "source_line", lines)
        for reject in result.rejects:
            reject.line += shift
    return result


def cluster_chunks(
    engine: Engine, path: str | Path, kind: str, category: str, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[ChunkResult]:
    """What `read_chunks(path, kind, category, chunk_bytes)` yields, parsed on the cluster."""
    uri, name = str(path), Path(path).name
    next_line = 1
    for result in _parsed(engine, uri, name, kind, category, chunk_bytes):
        yield renumbered(result, next_line)
        next_line += result.lines


def _parsed(engine: Engine, uri: str, name: str, kind: str, category: str, chunk_bytes: int) -> Iterator[ChunkResult]:
    if not uri.endswith(".gz"):
        units = [ChunkUnit(uri, kind, category, name, s, e) for s, e in plan_ranges(uri, chunk_bytes)]
        yield from engine.map_ordered(parse_unit, units)
        return
    wave: list[ChunkUnit] = []
    size = max(2, 2 * engine.cpus())  # chunks per wave: every worker busy, the driver holding a few chunks
    with open_for_chunks(uri) as stream:
        for _first, _lines, chunk in iter_line_chunks(stream, chunk_bytes):
            wave.append(ChunkUnit(uri, kind, category, name, data=bytes(chunk)))
            if len(wave) == size:
                yield from engine.map_ordered(parse_unit, wave)
                wave = []
    yield from engine.map_ordered(parse_unit, wave)
