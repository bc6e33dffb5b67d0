import pytest

from foundation.storage.quarantine import TooManyRejects


def test_quarantine_keeps_rejects_per_partition_without_doubling(storage):
    for _run in range(2):
        q = storage.quarantine("reviews", "Books")
        q.reject('{"rating": ', "bad_json: Expecting value", "Books.jsonl:17")
        q.reject({"rating": 9}, "out_of_range: rating 9", "Books.jsonl:18")
        meta = q.commit(run_id=f"run-{_run}")
    other = storage.quarantine("reviews", "Toys")
    other.reject("x", "bad_json: junk", "Toys.jsonl:1")
    other.commit(run_id="run-2")

    table = storage.quarantine("reviews").store.read().to_pylist()
    books = [r for r in table if r["source_partition"] == "Books"]
    assert len(books) == 2 and {r["run_id"] for r in books} == {"run-1"}
    assert len(table) == 3
    assert meta["quarantined_rows"] == 2
    assert meta["quarantine_reasons"].value == {"bad_json": 1, "out_of_range": 1}

    # A clean re-run clears the partition's rejects; a clean run of a clean partition writes no commit.
    storage.quarantine("reviews", "Books").commit(run_id="run-3")
    version = storage.quarantine("reviews").store.version()
    storage.quarantine("reviews", "Books").commit(run_id="run-4")
    storage.quarantine("reviews", "Music").commit(run_id="run-4")
    assert storage.quarantine("reviews").store.version() == version
    assert [r["source_partition"] for r in storage.quarantine("reviews").store.read().to_pylist()] == ["Toys"]


def test_too_many_rejects_fail_loudly(storage):
    q = storage.quarantine("reviews", "Books")
    for i in range(3):
        q.reject("junk", "bad_json", f"f:{i}")
    q.check_share(total=100, max_share=0.05)
    with pytest.raises(TooManyRejects, match="3 of 10 records rejected"):
        q.check_share(total=10, max_share=0.05)
