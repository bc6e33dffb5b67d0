"""The DuckDB fast path keeps the strict validation: exactly the planted bad lines are quarantined, nothing is coerced.

DuckDB's reader would turn 1.5 into 2 in an integer column, `true` into 1 and a number into its text in a string
column; `scrapers.amazon.duckdb_lines` must refuse every such chunk so that the exact path explains its bad lines.
"""

import json

import pyarrow as pa
import pyarrow.json as pa_json
import pytest

from assets.amazon.tables import REVIEWS
from foundation.storage.delta_tables import Window
from scrapers.amazon import jsonl
from scrapers.amazon.ingest import ingest_file
from scrapers.amazon.jsonl import iter_line_chunks, parse_review_chunk, read_chunks

CHUNK_BYTES = 32 << 10  # ~100 lines a chunk: most chunks clean (fast path), a few holding planted lines


def good(i: int, **changes: object) -> dict:
    return {
        "rating": float(1 + i % 5),
        "title": f"title {i}",
        "text": f'review number {i} \u00e9\u00e8 "quoted" \\ back\nslash',
        "images": [] if i % 7 else [{"small_image_url": f"https://x/{i}.jpg", "attachment_type": "IMAGE"}],
        "asin": f"B{i:09d}",
        "parent_asin": f"P{i // 3:09d}",
        "user_id": f"U{i % 97}",
        "timestamp": 1_500_000_000_000 + i * 1000,
        "helpful_vote": i % 4,
        "verified_purchase": i % 2 == 0,
    } | changes


def line(record: object) -> bytes:
    return record if isinstance(record, bytes) else json.dumps(record).encode()


# Planted bad lines: (line number, raw line, reason kind). Line 1 is a bare `null` (which crashes pyarrow 25's JSON
# reader when it opens a block), the rest spread over a few chunks, one of them longer than a chunk.
PLANTED = {
    1: (b"null", "bad_json"),
    40: (line(good(40))[:-30], "bad_json"),  # cut mid-way
    41: (line(good(41, helpful_vote=1.5)), "bad_type"),  # DuckDB: 2
    42: (line(good(42, rating=True)), "bad_type"),  # DuckDB: 1.0
    43: (line(good(43, helpful_vote=True)), "bad_type"),  # DuckDB: 1
    44: (line({k: v for k, v in good(44).items() if k != "user_id"}), "missing_field"),
    45: (line(good(45, title=5)), "bad_type"),  # DuckDB: "5"
    46: (line(good(46, rating="5")), "bad_type"),  # DuckDB: 5.0
    47: (line(good(47, images={"small_image_url": "x"})), "bad_type"),
    48: (line(good(48, images=[{"small_image_url": 5}])), "bad_type"),  # DuckDB: "5"
    49: (line(good(49, verified_purchase=1)), "bad_type"),  # DuckDB: true
    50: (line(good(50, text={"a": [1, "x"]})), "bad_type"),  # DuckDB: '{"a":[1,"x"]}'
    700: (line(good(700, rating=float("nan"))), "out_of_range"),
    701: (line(good(701)).replace(b'"rating": 2.0', b'"rating": Infinity'), "out_of_range"),
    702: (line(good(702)).replace(b'"rating": 3.0', b'"rating": 1e400'), "out_of_range"),
    703: (line(good(703, rating=7.0)), "out_of_range"),
    704: (line(good(704, timestamp=1_500_000_000)), "out_of_range"),  # seconds, not ms
    705: (line(good(705, title="XX")).replace(b"XX", b"\xff\xfe"), "bad_json"),  # not UTF-8
    706: (line(good(706, helpful_vote=2**63)), "bad_type"),  # overflows int64
    707: (b"[1, 2]", "bad_json"),
    708: (line(good(708, asin=1234567890)), "bad_type"),  # DuckDB: "1234567890", an ISBN-like asin
    709: (line(good(709, helpful_vote=2**40)), "out_of_range"),  # stored as int32
    1500: (line(good(1500, text="x" * 300_000, rating="five")), "bad_type"),  # over-long and wrong
}
LOOK_ALIKES = {  # genuine strings that look like what DuckDB makes of non-strings: kept as they are
    60: good(60, title="5"),
    61: good(61, title="true", text="[This review was collected as part of a promotion.]"),
    62: good(62, text='{"not": "an object"}', asin="1234567890"),
    63: good(63, title="-Infinity", text="NaN"),
}
N_LINES = 2_000
BLANK = {900}
LONG_GOOD = 1200  # longer than a chunk and than Arrow's 4 MB block: a good line all the same
EXPECTED_ROWS = N_LINES - len(PLANTED) - len(BLANK)


def _file_lines() -> list[bytes]:
    out = []
    for i in range(1, N_LINES + 1):
        if i in PLANTED:
            out.append(PLANTED[i][0])
        elif i in BLANK:
            out.append(b"")
        elif i == LONG_GOOD:
            out.append(line(good(i, text="long " * 1_000_000)))
        else:
            out.append(line(LOOK_ALIKES.get(i) or good(i)))
    return out


@pytest.fixture(scope="module")
def planted_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("fast") / "Toys.jsonl"
    path.write_bytes(b"\n".join(_file_lines()) + b"\n")
    return path


def test_the_quarantine_holds_exactly_the_planted_lines_and_nothing_is_coerced(storage, planted_file):
    quarantine = storage.quarantine("amazon_reviews", "Toys")
    result, stats = ingest_file(
        REVIEWS.store(storage), quarantine, planted_file, "reviews", "Toys", chunk_bytes=CHUNK_BYTES
    )
    lines = _file_lines()
    starts = [sum(len(x) + 1 for x in lines[:i]) for i in range(len(lines))]
    rejected = {int(r["location"].rsplit(":", 1)[1]): r for r in quarantine.rows}
    assert {n: r["reason"].split(":")[0] for n, r in rejected.items()} == {n: k for n, (_, k) in PLANTED.items()}
    for number, row in rejected.items():  # each reject points at its own line, by number and by byte offset
        assert row["raw_offset"] == starts[number - 1]
        assert row["raw_bytes"] == len(lines[number - 1])
    assert stats["lines"] == N_LINES and stats["blank_lines"] == len(BLANK)
    assert result.rows_written == EXPECTED_ROWS

    table = REVIEWS.store(storage).read(Window.of("category", "Toys")).sort_by("source_line")
    numbers = table["source_line"].to_pylist()
    assert numbers == [i for i in range(1, N_LINES + 1) if i not in PLANTED and i not in BLANK]
    # Nothing coerced: every stored value is the line's own value, of its own JSON type.
    for row in table.select(["source_line", "rating", "title", "text", "asin", "helpful_vote"]).to_pylist():
        record = json.loads(lines[row["source_line"] - 1])
        assert row["title"] == record["title"] and row["text"] == record["text"] and row["asin"] == record["asin"]
        assert row["rating"] == record["rating"] and row["helpful_vote"] == record["helpful_vote"]
    looks = {r["source_line"]: r for r in table.to_pylist() if r["source_line"] in LOOK_ALIKES}
    assert looks[60]["title"] == "5" and looks[61]["title"] == "true" and looks[62]["asin"] == "1234567890"


def test_fast_path_takes_the_clean_chunks_and_the_fallback_gives_the_same_result(planted_file):
    with open(planted_file, "rb", buffering=0) as stream:
        chunks = list(iter_line_chunks(stream, CHUNK_BYTES))
    planted_in = [any(first <= n < first + count for n in PLANTED) for first, count, _ in chunks]
    vouched = [jsonl._STRICT_LINES.strict_table(chunk, count) is not None for _, count, chunk in chunks]
    clean = [not p and not any(first <= b < first + count for b in BLANK) for p, (first, count, _) in zip(
        planted_in, chunks, strict=True)]  # fmt: skip
    assert sum(clean) > 10 and all(v for v, c in zip(vouched, clean, strict=True) if c)  # clean: the fast path
    # Each chunk, fast or falling back, equals the exact path (Arrow, bisected to line-by-line) on the same lines.
    for first, count, chunk in chunks:
        fast = parse_review_chunk(first, chunk, "Toys", "Toys.jsonl", count)
        exact = parse_review_chunk(first, chunk, "Toys", "Toys.jsonl", count, fast=False)
        assert fast.table.equals(exact.table)
        assert [(r.line, r.reason, r.offset) for r in fast.rejects] == [
            (r.line, r.reason, r.offset) for r in exact.rejects
        ]
    streamed = list(read_chunks(planted_file, "reviews", "Toys", chunk_bytes=CHUNK_BYTES))
    assert sum(r.table.num_rows for r in streamed) == EXPECTED_ROWS


@pytest.mark.parametrize("number", sorted(n for n in PLANTED if n > 1))
def test_duckdb_never_vouches_for_a_chunk_with_a_bad_line(number):
    chunk = line(good(1)) + b"\n" + PLANTED[number][0] + b"\n" + line(good(2)) + b"\n"
    table = jsonl._STRICT_LINES.strict_table(chunk, 3)
    assert table is None or jsonl._review_rejects(table)  # refused, or every bad row is seen as bad


def test_look_alike_strings_are_read_exactly_as_arrow_reads_them():
    chunk = b"".join(line(r) + b"\n" for r in LOOK_ALIKES.values())
    arrow = pa_json.read_json(pa.BufferReader(chunk), parse_options=jsonl._PARSE_OPTIONS)
    assert jsonl._STRICT_LINES.strict_table(chunk, len(LOOK_ALIKES)).equals(arrow)


def test_chunks_read_into_mapped_files_give_what_bytearrays_give(planted_file, monkeypatch):
    # The default path on Linux reads each chunk into an mmapped /dev/shm file that DuckDB opens directly; the
    # bytearray path (other systems) must give the same rows, line numbers and rejects. A line longer than a
    # chunk (the buffer is outgrown) and a final line without a newline are included.
    from scrapers.amazon import mapped_chunks

    assert mapped_chunks.AVAILABLE  # CI runs Linux: the mapped path is the one under test
    data = planted_file.read_bytes() + line(good(9_999, text="x" * (3 * CHUNK_BYTES))) + b"\n" + line(good(10_000))
    path = planted_file.with_name("Toys_long.jsonl")
    path.write_bytes(data)
    mapped = list(read_chunks(path, "reviews", "Toys", chunk_bytes=CHUNK_BYTES))
    monkeypatch.setattr(mapped_chunks, "AVAILABLE", False)
    plain = list(read_chunks(path, "reviews", "Toys", chunk_bytes=CHUNK_BYTES))
    assert len(mapped) == len(plain) > 10
    for a, b in zip(mapped, plain, strict=True):
        assert a.table.equals(b.table) and (a.lines, a.blank_lines, a.bytes_read) == (
            b.lines,
            b.blank_lines,
            b.bytes_read,
        )
        assert [(r.line, r.reason, r.offset, r.raw) for r in a.rejects] == [
            (r.line, r.reason, r.offset, r.raw) for r in b.rejects
        ]
    assert mapped[-1].table["title"][-1].as_py() == "title 10000"

    # /dev/shm full (a 64 MB Docker default, Ray's object store): no SIGBUS, the chunks that find no room get
    # bytearrays and every result stays the same.
    monkeypatch.setattr(mapped_chunks, "AVAILABLE", True)
    reserve = mapped_chunks.os.posix_fallocate
    calls = []

    def fill_up(fd: int, offset: int, size: int) -> None:
        calls.append(size)
        if len(calls) > 2:
            raise OSError(28, "No space left on device")
        reserve(fd, offset, size)

    monkeypatch.setattr(mapped_chunks.os, "posix_fallocate", fill_up)
    crowded = list(read_chunks(path, "reviews", "Toys", chunk_bytes=CHUNK_BYTES))
    assert len(calls) > 3
    for a, b in zip(crowded, plain, strict=True):
        assert a.table.equals(b.table) and [(r.line, r.reason) for r in a.rejects] == [
            (r.line, r.reason) for r in b.rejects
        ]
