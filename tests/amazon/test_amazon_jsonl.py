"""The streaming reader: exact rejects with line numbers, whatever the chunk size, plain or gzip."""

import gzip
import io
import json
import queue
from collections import Counter

import pytest

from sandbox.amazon import AmazonSandboxSpec, generate
from scrapers.amazon.jsonl import iter_line_chunks, read_chunks

GOOD = {
    "rating": 5.0,
    "title": "ok",
    "text": "fine",
    "images": [],
    "asin": "B1",
    "parent_asin": "B0",
    "user_id": "U1",
    "timestamp": 1_600_000_000_000,
    "helpful_vote": 0,
    "verified_purchase": True,
}


def _lines(*records: object) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records)


def test_line_chunks_keep_lines_whole_and_numbered():
    data = b"a\nbb\nccc\ndddd\n" + b"tail-without-newline"
    chunks = list(iter_line_chunks(io.BytesIO(data), chunk_bytes=4))
    assert b"".join(c for _, _, c in chunks) == data + b"\n"
    assert all(c.endswith(b"\n") for _, _, c in chunks)
    assert [n for n, _, _ in chunks] == [1, 2, 3, 4, 5][: len(chunks)]
    assert [lines for _, lines, c in chunks] == [c.count(b"\n") for _, _, c in chunks]


def test_recycled_buffers_give_the_same_chunks_as_fresh_ones():
    # A line longer than the chunk leaves an oversized buffer behind; short and final chunks shrink theirs.
    data = b"a\n" + b"x" * 23 + b"\nbb\nccc\n" + b"y" * 9 + b"\ndddd\ne\n" + b"tail-without-newline"
    fresh = [(n, lines, bytes(c)) for n, lines, c in iter_line_chunks(io.BytesIO(data), chunk_bytes=6)]
    recycled: queue.SimpleQueue = queue.SimpleQueue()
    reused = []
    for n, lines, chunk in iter_line_chunks(io.BytesIO(data), chunk_bytes=6, recycled=recycled):
        reused.append((n, lines, bytes(chunk)))
        recycled.put(chunk)  # handed back at once: the next chunk is read into this very buffer
    assert reused == fresh


def test_every_kind_of_bad_review_is_rejected_with_its_line(tmp_path):
    path = tmp_path / "Toys.jsonl"
    path.write_bytes(
        _lines(
            GOOD,
            b'{"rating": 5.0, "title": "cut',
            GOOD | {"rating": "five"},
            {k: v for k, v in GOOD.items() if k != "user_id"},
            GOOD | {"rating": 0.0},
            GOOD | {"timestamp": 1_600_000_000},  # seconds, not ms
            b"[1, 2]",
            b"",
            GOOD | {"timestamp": 1.6e12},  # a whole number written as a float is fine
            GOOD | {"images": [{"large_image_url": "https://x/y.jpg", "attachment_type": "IMAGE"}]},
        )
    )
    results = list(read_chunks(path, "reviews", "Toys"))
    rows = sum(r.table.num_rows for r in results)
    rejects = {r.line: r.reason.split(":")[0] for res in results for r in res.rejects}
    assert rows == 3
    assert rejects == {
        2: "bad_json",
        3: "bad_type",
        4: "missing_field",
        5: "out_of_range",
        6: "out_of_range",
        7: "bad_json",
    }
    assert sum(r.blank_lines for r in results) == 1
    table = results[0].table
    assert table["source_line"].to_pylist() == [1, 9, 10]
    assert table["images"].to_pylist()[2][0]["large_image_url"] == "https://x/y.jpg"
    assert str(table.schema.field("timestamp").type) == "timestamp[ms, tz=UTC]"


@pytest.mark.parametrize("chunk_bytes", [300_000, 4 << 20])
@pytest.mark.parametrize("compress", [False, True])
def test_generated_file_gives_exact_counts_for_any_chunking(tmp_path, chunk_bytes, compress):
    spec = AmazonSandboxSpec(n_users=800, n_items=150, gzip=compress)
    files = generate(tmp_path, spec)
    for path, kind, good, bad in [
        (files.reviews_path, "reviews", files.good_reviews, files.bad_reviews),
        (files.meta_path, "items", files.good_items, files.bad_items),
    ]:
        results = list(read_chunks(path, kind, spec.category, chunk_bytes=chunk_bytes))
        assert sum(r.table.num_rows for r in results) == good
        assert Counter(r.reason.split(":")[0] for res in results for r in res.rejects) == bad
        lines = (gzip.decompress(path.read_bytes()) if compress else path.read_bytes()).split(b"\n")
        for reject in (r for res in results for r in res.rejects):
            assert lines[reject.line - 1] == reject.raw  # the line number points at the rejected line


def test_item_prices_and_details_are_kept_honestly(tmp_path):
    path = tmp_path / "meta_Toys.jsonl"
    base = {"parent_asin": "B0", "title": "t", "details": {"Brand": "X", "Rank": {"Toys": 3}}, "price": 12.5}
    path.write_bytes(
        _lines(
            base,
            base | {"parent_asin": "B1", "price": "from 12.99"},
            base | {"parent_asin": "B2", "price": "$1,299.00"},
        )
    )
    table = next(read_chunks(path, "items", "Toys")).table
    assert table["price"].to_pylist() == [12.5, None, 1299.0]
    assert table["price_raw"].to_pylist() == [None, "from 12.99", "$1,299.00"]
    assert json.loads(table["details_json"][0].as_py()) == {"Brand": "X", "Rank": {"Toys": 3}}


def test_reading_ahead_in_a_thread_gives_the_same_chunks_and_stops_cleanly(tmp_path):
    import threading

    files = generate(tmp_path, AmazonSandboxSpec(n_users=400, n_items=80))
    inline = list(read_chunks(files.reviews_path, "reviews", "Toys", chunk_bytes=50_000, read_ahead=0))
    ahead = list(read_chunks(files.reviews_path, "reviews", "Toys", chunk_bytes=50_000, read_ahead=2))
    assert len(inline) == len(ahead) > 3
    assert all(a.table.equals(b.table) and a.rejects == b.rejects for a, b in zip(inline, ahead, strict=True))

    stream = read_chunks(files.reviews_path, "reviews", "Toys", chunk_bytes=50_000, read_ahead=1)
    next(stream)
    stream.close()  # the consumer gives up early (the writer failed): the worker must not linger
    assert not [t for t in threading.enumerate() if t.name == "amazon-jsonl-read-ahead"]


def test_a_truncated_gzip_fails_loudly_through_the_read_ahead_thread(tmp_path):
    files = generate(tmp_path, AmazonSandboxSpec(n_users=400, n_items=80, gzip=True))
    data = files.reviews_path.read_bytes()
    files.reviews_path.write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError, match="runcated"):
        list(read_chunks(files.reviews_path, "reviews", "Toys", chunk_bytes=50_000))
