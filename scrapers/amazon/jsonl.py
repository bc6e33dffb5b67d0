"""Streaming readers for Amazon Reviews 2023 JSON-lines files, in bounded memory.

A file is read in chunks of whole lines (`chunk_bytes`, default 16 MB) so memory does not grow with the file
(the Electronics reviews file is 22 GB). Review chunks go through Arrow's multi-threaded JSON parser with an
explicit schema; a chunk that Arrow refuses (a truncated line, a string where a number belongs) is bisected
until the offending lines are isolated, and those are parsed one by one so that each bad line is rejected with
its line number and reason while its neighbours still load fast. Item metadata has free-form `details`
objects that are kept as JSON text, so it is always parsed line by line (items are ~4% of the reviews' size).

Where the time goes (2-core machine, each stage timed alone on 414 MB): Arrow's JSON parser ~3.5-4 CPU-ms/MB,
Parquet encoding ~1.4 (pyarrow's encoder, through `DeltaStore.overwrite_stream`), reading and counting lines
~0.3; everything else is kept out of the way. Each chunk is read straight into its own buffer and handed to
Arrow zero-copy (`pa.BufferReader`; an `io.BytesIO` made Arrow's I/O threads copy it back out under the GIL),
lines are counted once per chunk with numpy, gzip is decoded by Arrow, and `read_chunks` parses whole chunks
side by side in parser threads, up to two chunks ahead of the writer, which encodes meanwhile (~1.7 of the 2
cores busy). A clean chunk never takes the line-by-line path. Before Arrow, each review chunk is offered to
DuckDB's JSON reader (`duckdb_lines`), which parses more cheaply but coerces bad values (1.5 -> 2 for an integer,
true -> 1, an object -> its JSON text) where Arrow refuses them: so it reads loose types, the values are judged
with Arrow's rules, and a chunk it cannot vouch for, or with any unusable row, takes the Arrow path, which alone
decides what a reject is. On Linux, review chunks are read into memory-mapped /dev/shm files that DuckDB opens
directly (`mapped_chunks`), so a chunk's bytes are copied once from the page cache and never again.

Line numbers are 1-based, like an editor's, so `sed -n <line>p <file>` shows the rejected line. Each reject
also carries its byte offset in the chunk (`Reject.offset`; the ingestion adds the chunk's offset in the file).

Every value is judged the same way whichever path its chunk takes: a rating is rejected unless it is a finite
number in 1..5 (NaN, Infinity and 1e400, which Python's json reads as inf and Arrow refuses, included), both
in Arrow's chunk parser and in the line-by-line fallback (which lets non-finite ratings through to the one
range check in `_review_rejects`).
"""

from __future__ import annotations

import atexit
import gzip
import json
import math
import os
import queue
import re
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from scrapers.amazon import mapped_chunks
from scrapers.amazon.duckdb_lines import StrictJsonLines

CHUNK_BYTES = 16 << 20
_NEWLINE = ord("\n")
Chunk = bytes | bytearray | memoryview  # whole lines, each ending in a newline
_MIN_BISECT_BYTES = 256 << 10
# Plausible review times: the oldest Amazon reviews are from 1996; anything later than 2030 is in the wrong unit.
_MIN_TS_MS = 820_454_400_000
_MAX_TS_MS = 1_893_456_000_000
_MAX_VOTES = 2**31 - 1  # stored as int32: a larger count is rejected, not a crash of the whole file

REVIEW_IMAGE = pa.struct(
    [
        ("small_image_url", pa.string()),
        ("medium_image_url", pa.string()),
        ("large_image_url", pa.string()),
        ("attachment_type", pa.string()),
    ]
)
# What one review line holds (the 2023 field names, exactly).
REVIEW_LINE_SCHEMA = pa.schema(
    [
        ("rating", pa.float64()),
        ("title", pa.string()),
        ("text", pa.string()),
        ("images", pa.list_(REVIEW_IMAGE)),
        ("asin", pa.string()),
        ("parent_asin", pa.string()),
        ("user_id", pa.string()),
        ("timestamp", pa.int64()),
        ("helpful_vote", pa.int64()),
        ("verified_purchase", pa.bool_()),
    ]
)
# The stored table: the line's fields, the time as a real timestamp, and where each row came from.
REVIEW_SCHEMA = pa.schema(
    [
        ("category", pa.string()),
        ("user_id", pa.string()),
        ("asin", pa.string()),
        ("parent_asin", pa.string()),
        ("rating", pa.float32()),
        ("title", pa.string()),
        ("text", pa.string()),
        ("images", pa.list_(REVIEW_IMAGE)),
        ("timestamp", pa.timestamp("ms", tz="UTC")),
        ("helpful_vote", pa.int32()),
        ("verified_purchase", pa.bool_()),
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
    ]
)
ITEM_IMAGE = pa.struct(
    [("thumb", pa.string()), ("large", pa.string()), ("variant", pa.string()), ("hi_res", pa.string())]
)
ITEM_VIDEO = pa.struct([("title", pa.string()), ("url", pa.string()), ("user_id", pa.string())])
ITEM_SCHEMA = pa.schema(
    [
        ("category", pa.string()),
        ("parent_asin", pa.string()),
        ("main_category", pa.string()),
        ("title", pa.string()),
        ("average_rating", pa.float32()),
        ("rating_number", pa.int64()),
        ("features", pa.list_(pa.string())),
        ("description", pa.list_(pa.string())),
        ("price", pa.float64()),
        ("price_raw", pa.string()),  # the original text when `price` is not a number ("from 12.99")
        ("images", pa.list_(ITEM_IMAGE)),
        ("videos", pa.list_(ITEM_VIDEO)),
        ("store", pa.string()),
        ("categories", pa.list_(pa.string())),
        ("details_json", pa.string()),  # free-form key/value object, kept verbatim as JSON
        ("bought_together", pa.list_(pa.string())),
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
    ]
)


@dataclass
class Reject:
    line: int
    reason: str
    raw: bytes
    offset: int = 0  # byte offset of the line in its chunk (set by the chunk parsers)

    def __post_init__(self) -> None:
        self.raw = bytes(self.raw)  # lines split from a bytearray chunk are bytearrays; the quarantine wants bytes


@dataclass
class ChunkResult:
    """Good rows of one chunk (already in the stored schema) and the lines rejected from it."""

    table: pa.Table
    rejects: list[Reject] = field(default_factory=list)
    lines: int = 0
    blank_lines: int = 0
    bytes_read: int = 0


def open_lines(path: str | Path) -> IO[bytes]:
    """The file's bytes, gunzipped for `.gz`; iterable line by line."""
    path = Path(path)
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb", buffering=0)


def open_for_chunks(path: str | Path) -> IO[bytes]:
    """The file's bytes for `iter_line_chunks`: `.gz` through Arrow's gzip (about 30% less CPU than Python's,
    outside the GIL; a truncated file still raises, concatenated members are read through)."""
    path = Path(path)
    return pa.input_stream(str(path), compression="gzip") if path.suffix == ".gz" else open(path, "rb", buffering=0)


def count_lines(chunk: Chunk) -> int:
    """Newlines in `chunk`: numpy compares 16 MB in ~3 ms, `bytes.count` takes ~5 ms (it runs once per chunk).
    In 1 MB slices, so the comparison's mask is a small reused block, not 16 MB of fresh pages every chunk."""
    data = np.frombuffer(chunk, np.uint8)
    return sum(int(np.count_nonzero(data[i : i + (1 << 20)] == _NEWLINE)) for i in range(0, data.size, 1 << 20))


def iter_line_chunks(
    stream: IO[bytes], chunk_bytes: int = CHUNK_BYTES, recycled: queue.SimpleQueue | None = None
) -> Iterator[tuple[int, int, bytearray]]:
    """(1-based number of the chunk's first line, its number of lines, chunk of whole lines ending in a newline).

    Each chunk is read straight into its own buffer (`readinto`), behind the few bytes of the line the previous
    chunk cut off: one copy from the kernel, instead of three (read, carry + block, slice) for 16 MB at a time.
    Buffers the caller puts into `recycled` once it no longer needs their chunk are refilled instead of fresh ones.
    """
    for first, lines, buffer, length in _cut_lines(stream, chunk_bytes, lambda size: _buffer(size, recycled)):
        del buffer[length:]
        yield first, lines, buffer


def _cut_lines(stream: IO[bytes], chunk_bytes: int, take: Callable[[int], Any]) -> Iterator[tuple[int, int, Any, int]]:
    """(first line, lines, buffer, length): the chunk is `buffer[:length]`. `take(size)` gives a buffer of at
    least `size` bytes (a bytearray, or a `mapped_chunks.MappedFile`); `chunk_bytes` are read behind the carry."""
    next_line, carry, at_end = 1, b"", False
    while not at_end:
        size = len(carry) + chunk_bytes
        buffer = take(size)
        buffer[: len(carry)] = carry
        filled = len(carry) + _read_into(stream, memoryview(buffer)[len(carry) : size])
        at_end = filled < size
        cut = buffer.rfind(b"\n", 0, filled) + 1
        if at_end:
            if filled == 0:
                break
            if cut < filled:  # the last line has no newline: give it one (there is room, the buffer is not full)
                buffer[filled] = _NEWLINE
                cut = filled + 1
        elif cut == 0:  # one line longer than the chunk: keep reading until it ends
            carry = bytes(buffer[:filled])
            continue
        carry = bytes(buffer[cut:filled])
        lines = count_lines(memoryview(buffer)[:cut])
        yield next_line, lines, buffer, cut
        next_line += lines


def _buffer(size: int, recycled: queue.SimpleQueue | None) -> bytearray:
    """A `size`-byte buffer: a recycled one resized in place where possible. A fresh 16 MB bytearray costs its
    zero-filling and ~4,000 page faults every chunk (glibc hands such blocks back to the kernel on free): reusing
    two or three buffers measured ~5% less CPU and ~60 MB less peak RSS for the whole ingestion."""
    while recycled is not None:
        try:
            buffer = recycled.get_nowait()
        except queue.Empty:
            break
        try:  # within its allocation (a recycled chunk was only cut short), CPython resizes without copying
            if len(buffer) < size:
                buffer.extend(bytes(size - len(buffer)))
            else:
                del buffer[size:]
            return buffer
        except BufferError:  # something still views it (a numpy array): leave it to the garbage collector
            continue
    return bytearray(size)


def _read_into(stream: IO[bytes], view: memoryview) -> int:
    """Fill `view` unless the stream ends first (gzip and pipes return short reads)."""
    got = 0
    while got < len(view):
        n = stream.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            break
        got += n
    return got


# -- reviews ---------------------------------------------------------------------------------


def _parse_review_lines_one_by_one(first_line: int, chunk: Chunk) -> tuple[pa.Table, np.ndarray, list[Reject]]:
    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    rejects: list[Reject] = []
    for offset, raw in enumerate(chunk.split(b"\n")[:-1]):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError as error:
            rejects.append(Reject(first_line + offset, f"bad_json: {error}", raw))
            continue
        if not isinstance(record, dict):
            rejects.append(Reject(first_line + offset, f"bad_json: a {type(record).__name__}, not an object", raw))
            continue
        try:
            rows.append(_coerce_review(record))
        except (TypeError, ValueError) as error:
            rejects.append(Reject(first_line + offset, f"bad_type: {error}", raw))
            continue
        numbers.append(first_line + offset)
    return pa.Table.from_pylist(rows, schema=REVIEW_LINE_SCHEMA), np.asarray(numbers, np.int64), rejects


def _coerce_review(record: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name in REVIEW_LINE_SCHEMA.names:
        value = record.get(name)
        if value is None:
            out[name] = None
        elif name == "rating":
            out[name] = _number(name, value, finite=False)  # NaN/inf: judged by `_review_rejects`, like Arrow's
        elif name in ("timestamp", "helpful_vote"):
            number = _number(name, value)
            if number != int(number):
                raise ValueError(f"{name}={value!r} is not a whole number")
            whole = value if isinstance(value, int) else int(number)  # an int stays exact (no round trip via float)
            if not -(2**63) <= whole < 2**63:
                raise ValueError(f"{name}={str(value)[:80]} does not fit 64 bits")
            out[name] = whole
        elif name == "verified_purchase":
            if not isinstance(value, bool):
                raise ValueError(f"{name}={value!r} is not a boolean")
            out[name] = value
        elif name == "images":
            if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
                raise ValueError(f"images={str(value)[:80]!r} is not a list of objects")
            if any(not isinstance(i.get(k), str | None) for i in value for k in REVIEW_IMAGE.names):
                raise ValueError(f"images={str(value)[:80]!r} has a field that is not text")
            out[name] = value
        else:
            if not isinstance(value, str):
                raise ValueError(f"{name}={str(value)[:80]!r} is not a string")
            out[name] = value
    return out


def _number(name: str, value: Any, finite: bool = True) -> float:
    """`value` as a float; ValueError for anything else (a bool, text, an int too large for a float and,
    with `finite`, NaN and ±inf)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}={str(value)[:80]!r} is not a number")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf if value > 0 else -math.inf
    if finite and not math.isfinite(number):
        raise ValueError(f"{name}={str(value)[:80]!r} is not a number")
    return number


# Single-threaded per chunk: `read_chunks` parses whole chunks side by side instead, which measured ~10% less CPU
# and ~10% more MB/s than Arrow splitting each chunk into blocks for its own thread pool.
_READ_OPTIONS = pa_json.ReadOptions(use_threads=False, block_size=4 << 20)
_PARSE_OPTIONS = pa_json.ParseOptions(explicit_schema=REVIEW_LINE_SCHEMA, unexpected_field_behavior="ignore")
_STRICT_LINES = StrictJsonLines(REVIEW_LINE_SCHEMA, _PARSE_OPTIONS)
# pyarrow 25's JSON reader crashes the process (SIGSEGV) when a block's first value is a top-level `null`.
_LEADING_NULL = re.compile(rb"\s*null")


def _parse_review_chunk(
    first_line: int, chunk: Chunk, lines: int | None = None
) -> tuple[pa.Table, np.ndarray, list[Reject]]:
    """Arrow's fast parser when the chunk is clean; otherwise bisect towards the bad lines."""
    lines = count_lines(chunk) if lines is None else lines
    try:
        if not _LEADING_NULL.match(chunk):
            table = pa_json.read_json(pa.BufferReader(chunk), read_options=_READ_OPTIONS, parse_options=_PARSE_OPTIONS)
            # Arrow skips blank lines; then rows no longer map to line numbers, and the slow path handles it.
            if table.num_rows == lines:
                table.validate(full=True)  # Arrow's reader does not check UTF-8; invalid text must not be stored
                return table, np.arange(first_line, first_line + lines, dtype=np.int64), []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    if len(chunk) <= _MIN_BISECT_BYTES or lines < 2:
        return _parse_review_lines_one_by_one(first_line, chunk)
    middle = chunk.find(b"\n", len(chunk) // 2) + 1 or len(chunk)
    if middle >= len(chunk):
        middle = chunk.rfind(b"\n", 0, len(chunk) - 1) + 1
    head, tail = chunk[:middle], chunk[middle:]
    t1, n1, r1 = _parse_review_chunk(first_line, head)
    t2, n2, r2 = _parse_review_chunk(first_line + head.count(b"\n"), tail)
    return pa.concat_tables([t1, t2]), np.concatenate([n1, n2]), r1 + r2


def _bad_ratings(rating: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """True where a rating is not a finite number in 1..5; NaN compares false both ways, so it is tested
    as "not inside" rather than "below or above" (null: False, reported as missing)."""
    return pc.fill_null(pc.invert(pc.and_(pc.greater_equal(rating, 1.0), pc.less_equal(rating, 5.0))), False)


def _review_rejects(table: pa.Table) -> list[tuple[int, str]]:
    """(row, reason) for rows that parsed but cannot be used: no ids, no rating, rating or time out of range."""
    stamp = pc.min_max(table["timestamp"])
    votes = pc.min_max(table["helpful_vote"])
    nulls = sum(table[name].null_count for name in ("user_id", "parent_asin", "asin", "rating", "timestamp"))
    if not table.num_rows or (
        nulls == 0
        and not pc.any(_bad_ratings(table["rating"])).as_py()
        and stamp["min"].as_py() >= _MIN_TS_MS
        and stamp["max"].as_py() <= _MAX_TS_MS
        and (votes["min"].as_py() or 0) >= -_MAX_VOTES - 1
        and (votes["max"].as_py() or 0) <= _MAX_VOTES
    ):
        return []  # the usual case, decided from a few aggregates
    problems: list[tuple[int, str]] = []
    for name in ("user_id", "parent_asin", "asin", "rating", "timestamp"):
        for row in np.flatnonzero(table[name].is_null().to_numpy(zero_copy_only=False)):
            problems.append((int(row), f"missing_field: {name}"))
    rating = table["rating"]
    bad_rating = _bad_ratings(rating)
    for row in np.flatnonzero(bad_rating.to_numpy(zero_copy_only=False)):
        problems.append((int(row), f"out_of_range: rating={rating[int(row)].as_py()} not in 1..5"))
    stamp = table["timestamp"]
    bad_stamp = pc.fill_null(pc.or_(pc.less(stamp, _MIN_TS_MS), pc.greater(stamp, _MAX_TS_MS)), False)
    for row in np.flatnonzero(bad_stamp.to_numpy(zero_copy_only=False)):
        problems.append((int(row), f"out_of_range: timestamp={stamp[int(row)].as_py()} is not 1996..2030 in ms"))
    votes = table["helpful_vote"]
    bad_votes = pc.fill_null(pc.or_(pc.less(votes, -_MAX_VOTES - 1), pc.greater(votes, _MAX_VOTES)), False)
    for row in np.flatnonzero(bad_votes.to_numpy(zero_copy_only=False)):
        problems.append((int(row), f"out_of_range: helpful_vote={votes[int(row)].as_py()} does not fit 32 bits"))
    first: dict[int, str] = {}
    for row, reason in problems:  # one reason per row, the first found
        first.setdefault(row, reason)
    return sorted(first.items())


def _set_offsets(chunk: Chunk, first_line: int, rejects: list[Reject]) -> None:
    """Each reject's byte offset in the chunk, from the newline positions (only for chunks with rejects)."""
    if not rejects:
        return
    ends = np.flatnonzero(np.frombuffer(chunk, np.uint8) == _NEWLINE)
    starts = np.concatenate([[0], ends[:-1] + 1])
    for reject in rejects:
        reject.offset = int(starts[reject.line - first_line])


def _constant(value: str, n: int) -> pa.Array:
    # A one-entry dictionary decoded to plain strings: ~300x faster than pa.repeat for strings.
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([value])).cast(pa.string())


def parse_review_chunk(
    first_line: int,
    chunk: Chunk,
    category: str,
    source_file: str,
    lines: int | None = None,
    fast: bool = True,
    path: str | None = None,
) -> ChunkResult:
    """One chunk of review lines: DuckDB's strict fast path (`duckdb_lines`) when it vouches for the whole chunk
    and every row is usable; otherwise (or with `fast=False`) Arrow's reader, bisected down to line-by-line parsing
    around the bad lines. Both give the same table for the same lines. `path`: a file holding exactly `chunk`
    (a `mapped_chunks` buffer), which DuckDB reads directly."""
    lines = count_lines(chunk) if lines is None else lines
    table = _STRICT_LINES.strict_table(chunk, lines, path) if fast else None
    problems = _review_rejects(table) if table is not None else [(-1, "")]
    if problems and isinstance(chunk, memoryview):  # the exact path splits and searches bytes (rare: a copy)
        chunk = chunk.tobytes()
    if not problems:  # DuckDB read it and every row is usable: one row per line, nothing to reject
        numbers, rejects = np.arange(first_line, first_line + lines, dtype=np.int64), []
    else:  # the exact path finds and explains every bad line (and is the only one that decides what a reject is)
        table, numbers, rejects = _parse_review_chunk(first_line, chunk, lines)
        problems = _review_rejects(table)
    if problems:
        raw_lines = chunk.split(b"\n")
        for row, reason in problems:
            rejects.append(Reject(int(numbers[row]), reason, raw_lines[int(numbers[row]) - first_line]))
        keep = np.ones(table.num_rows, bool)
        keep[[row for row, _ in problems]] = False
        table, numbers = table.filter(pa.array(keep)), numbers[keep]
    n = table.num_rows
    table = pa.Table.from_arrays(
        [
            _constant(category, n),
            table["user_id"],
            table["asin"],
            table["parent_asin"],
            table["rating"].cast(pa.float32()),
            table["title"],
            table["text"],
            table["images"],
            table["timestamp"].cast(pa.timestamp("ms", tz="UTC")),
            table["helpful_vote"].cast(pa.int32()),
            table["verified_purchase"],
            _constant(source_file, n),
            pa.array(numbers, pa.int64()),
        ],
        schema=REVIEW_SCHEMA,
    )
    blank = lines - len(numbers) - len(rejects)  # every other line is a row or a reject
    _set_offsets(chunk, first_line, rejects)
    return ChunkResult(table, sorted(rejects, key=lambda r: r.line), lines, blank, len(chunk))


# -- items -----------------------------------------------------------------------------------


def _strings(name: str, value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError(f"{name} is a {type(value).__name__}, not a list")
    return [v if isinstance(v, str) else json.dumps(v) for v in value]


def _structs(name: str, value: Any, keys: list[str]) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValueError(f"{name} is not a list of objects")
    return [{k: (None if v.get(k) is None else str(v.get(k))) for k in keys} for v in value]


def _price(value: Any) -> tuple[float | None, str | None]:
    """Prices are numbers, null, or now and then text ("from 12.99", "—"): keep the text, never guess."""
    if value is None:
        return None, None
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value), None
    text = str(value)
    try:
        number = float(text.replace("$", "").replace(",", ""))
    except ValueError:
        return None, text
    return (number if math.isfinite(number) else None), text  # "nan", "inf", NaN: kept as text only


def coerce_item(record: dict[str, Any], category: str, source_file: str, line: int) -> dict[str, Any]:
    if not isinstance(record.get("parent_asin"), str) or not record["parent_asin"]:
        raise KeyError("parent_asin")
    price, price_raw = _price(record.get("price"))
    rating_number = record.get("rating_number")
    average = record.get("average_rating")
    if rating_number is not None and (
        isinstance(rating_number, bool)
        or not isinstance(rating_number, int | float)
        or not 0 <= rating_number < 2**63
        or rating_number != int(rating_number)
    ):  # NaN fails the range test; inf and huge ints fail the bound
        raise ValueError(f"rating_number={str(rating_number)[:80]!r} is not a count")
    if average is not None and (
        isinstance(average, bool) or not isinstance(average, int | float) or not 0.0 <= average <= 5.0
    ):  # NaN fails the range test too; 0 is what the release shows for an item without ratings
        raise ValueError(f"average_rating={str(average)[:80]!r} is not a number in 0..5")
    details = record.get("details")
    return {
        "category": category,
        "parent_asin": record["parent_asin"],
        "main_category": _text(record.get("main_category")),
        "title": _text(record.get("title")),
        "average_rating": None if average is None else float(average),
        "rating_number": None if rating_number is None else int(rating_number),
        "features": _strings("features", record.get("features")),
        "description": _strings("description", record.get("description")),
        "price": price,
        "price_raw": price_raw,
        "images": _structs("images", record.get("images"), ["thumb", "large", "variant", "hi_res"]),
        "videos": _structs("videos", record.get("videos"), ["title", "url", "user_id"]),
        "store": _text(record.get("store")),
        "categories": _strings("categories", record.get("categories")),
        "details_json": None if details is None else json.dumps(details, ensure_ascii=False, sort_keys=True),
        "bought_together": _strings("bought_together", record.get("bought_together")),
        "source_file": source_file,
        "source_line": line,
    }


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def parse_item_chunk(
    first_line: int, chunk: Chunk, category: str, source_file: str, lines: int | None = None
) -> ChunkResult:
    rows: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    blank = 0
    for offset, raw in enumerate(chunk.split(b"\n")[:-1]):
        line = first_line + offset
        if not raw.strip():
            blank += 1
            continue
        try:
            record = json.loads(raw)
        except ValueError as error:
            rejects.append(Reject(line, f"bad_json: {error}", raw))
            continue
        if not isinstance(record, dict):
            rejects.append(Reject(line, f"bad_json: a {type(record).__name__}, not an object", raw))
            continue
        try:
            rows.append(coerce_item(record, category, source_file, line))
        except KeyError as error:
            rejects.append(Reject(line, f"missing_field: {error.args[0]}", raw))
        except (TypeError, ValueError) as error:
            rejects.append(Reject(line, f"bad_type: {error}", raw))
    lines = count_lines(chunk) if lines is None else lines
    _set_offsets(chunk, first_line, rejects)
    return ChunkResult(pa.Table.from_pylist(rows, schema=ITEM_SCHEMA), rejects, lines, blank, len(chunk))


def read_chunks(
    path: str | Path,
    kind: str,
    category: str,
    chunk_bytes: int = CHUNK_BYTES,
    read_ahead: int = 2,
    parse_threads: int | None = None,
) -> Iterator[ChunkResult]:
    """Parse a reviews (`kind="reviews"`) or metadata (`kind="items"`) file chunk by chunk, in file order.

    With `read_ahead` > 0 a reader thread reads the file and hands each chunk to `parse_threads` parser threads
    (default: one per core), at most `read_ahead` chunks ahead of the consumer, so parsing overlaps with whatever
    the consumer does (the Delta writer encoding Parquet); Arrow's parser, the reads and the writer all release the
    GIL. Memory grows by about `read_ahead + parse_threads` chunks.
    """
    name = Path(path).name
    if kind == "reviews" and mapped_chunks.AVAILABLE:
        lines, parse = _mapped_review_chunks(path, chunk_bytes, category, name)
    else:
        lines, parse = _recycled_chunks(path, kind, chunk_bytes, category, name)
    if read_ahead <= 0:
        return (parse(*chunk) for chunk in lines)
    reader = _parsed_in_order(lines, parse, read_ahead, parse_threads or os.cpu_count() or 2)
    _OPEN_READERS.add(reader)
    return reader


def _recycled_chunks(
    path: str | Path, kind: str, chunk_bytes: int, category: str, name: str
) -> tuple[Iterator[tuple], Callable[..., ChunkResult]]:
    """Chunks in bytearrays, each buffer recycled once its chunk is parsed."""
    parse = parse_review_chunk if kind == "reviews" else parse_item_chunk
    # A parsed chunk's buffer is free again: its ChunkResult holds copies (DuckDB's and Arrow's tables, the
    # rejects' bytes), never views of it. At most `read_ahead + parse_threads` + 1 buffers circulate.
    recycled: queue.SimpleQueue = queue.SimpleQueue()

    def lines() -> Iterator[tuple[int, int, bytearray]]:
        with open_for_chunks(path) as stream:
            yield from iter_line_chunks(stream, chunk_bytes, recycled)

    def parse_and_recycle(first: int, n: int, chunk: bytearray) -> ChunkResult:
        result = parse(first, chunk, category, name, n)
        recycled.put(chunk)
        return result

    return lines(), parse_and_recycle


def _mapped_review_chunks(
    path: str | Path, chunk_bytes: int, category: str, name: str
) -> tuple[Iterator[tuple], Callable[..., ChunkResult]]:
    """Review chunks read once, into memory DuckDB reads as a file (`mapped_chunks`); same chunks, same results."""
    buffers = mapped_chunks.MappedBuffers()

    def lines() -> Iterator[tuple[int, int, mapped_chunks.MappedFile | bytearray, int]]:
        with open_for_chunks(path) as stream:
            for first, n, buffer, length in _cut_lines(stream, chunk_bytes, buffers.take):
                if isinstance(buffer, mapped_chunks.MappedFile):
                    buffer.cut_file(length)  # DuckDB reads exactly the chunk
                yield first, n, buffer, length

    def parse_and_recycle(first: int, n: int, buffer: mapped_chunks.MappedFile | bytearray, length: int) -> ChunkResult:
        mapped = isinstance(buffer, mapped_chunks.MappedFile)
        view = memoryview(buffer)[:length]
        result = parse_review_chunk(first, view, category, name, n, path=buffer.path if mapped else None)
        if mapped:
            buffers.give_back(buffer)
        return result

    return lines(), parse_and_recycle


# Readers with threads, until they finish or are closed. One abandoned mid-file (a script that stops iterating,
# a failed run whose traceback keeps the generator alive) would be finalised only in interpreter teardown, with
# its read-ahead daemon thread still inside Arrow or gzip code and the module globals its cleanup needs already
# gone; a C++ thread torn down that way aborts the process ("terminate called without an active exception",
# exit 134). So they are closed at exit, while the interpreter is intact: threads stopped and joined.
_OPEN_READERS: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _close_open_readers() -> None:
    for reader in list(_OPEN_READERS):
        reader.close()


def _parsed_in_order(
    chunks: Iterator[tuple], parse: Callable[..., ChunkResult], read_ahead: int, threads: int
) -> Iterator[ChunkResult]:
    pool = ThreadPoolExecutor(threads, thread_name_prefix="amazon-jsonl-parse")
    submitted = (pool.submit(parse, *chunk) for chunk in chunks)
    try:
        for future in _in_worker_thread(submitted, read_ahead):
            yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_END = object()


def _in_worker_thread(items: Iterator[Any], depth: int) -> Iterator[Any]:
    """`items`, produced by a worker thread at most `depth` ahead; its errors re-raised here, in order.

    Stopping early (an exception in the consumer, `close()`) stops the worker within ~0.1 s and closes `items`
    in the worker's own thread, so the file is closed and nothing is left running.
    """
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(entry: tuple[Any, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not hand_over((item, None)):
                    return
            hand_over((_END, None))
        except BaseException as error:  # handed to the consumer, which raises it
            hand_over((_END, error))
        finally:
            items.close()  # type: ignore[attr-defined]

    worker = threading.Thread(target=work, name="amazon-jsonl-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item, error = ready.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        worker.join()


# -- the 2014 release ------------------------------------------------------------------------


def review_2014_to_2023(record: dict[str, Any]) -> dict[str, Any]:
    """A 2014-release review (`reviewerID, asin, overall, summary, reviewText, unixReviewTime` in seconds,
    `helpful: [up, total]`) in the 2023 field names; 2014 has no parent_asin, so the asin stands in."""
    seconds = record.get("unixReviewTime")
    helpful = record.get("helpful") or [0]
    return {
        "rating": record.get("overall"),
        "title": record.get("summary"),
        "text": record.get("reviewText"),
        "images": [],
        "asin": record.get("asin"),
        "parent_asin": record.get("asin"),
        "user_id": record.get("reviewerID"),
        "timestamp": None if seconds is None else int(seconds) * 1000,
        "helpful_vote": int(helpful[0]),
        "verified_purchase": None,
    }


def convert_2014_reviews(source: str | Path, target: str | Path) -> int:
    """Rewrite a 2014 reviews file in the 2023 format so the same ingestion reads it; returns lines written."""
    written = 0
    with open_lines(source) as src, open(target, "w", encoding="utf-8") as dst:
        for raw in src:
            if raw.strip():
                dst.write(json.dumps(review_2014_to_2023(json.loads(raw))) + "\n")
                written += 1
    return written
