"""The Delta helper keeps rows exact under re-runs, ranges, concurrent writers and crashes."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pytest

from foundation.markdown import markdown_rows
from foundation.storage.delta_tables import DeltaStore, Window

SCHEMA = pa.schema([("week", pa.string()), ("basket", pa.int64()), ("spend", pa.float64())])


def week_rows(week: str, n: int, offset: int = 0) -> pa.Table:
    return pa.table({"week": [week] * n, "basket": list(range(offset, offset + n)), "spend": [1.5] * n}, schema=SCHEMA)


@pytest.fixture
def store(tmp_path) -> DeltaStore:
    return DeltaStore(str(tmp_path / "tx"), SCHEMA, ["week"])


def counts(store: DeltaStore) -> dict[str, int]:
    weeks = store.read(columns=["week"])["week"].to_pylist()
    return {w: weeks.count(w) for w in sorted(set(weeks))}


def test_rerunning_a_partition_twice_keeps_rows_exact(store):
    store.overwrite(week_rows("200607", 5), Window.of("week", "200607"))
    store.overwrite(week_rows("200609", 3), Window.of("week", "200609"))
    first = store.overwrite(week_rows("200607", 5), Window.of("week", "200607"))
    assert counts(store) == {"200607": 5, "200609": 3}
    assert first.rows_written == 5 and first.rows_total == 8
    second = store.overwrite(week_rows("200607", 4), Window.of("week", "200607"))
    assert counts(store) == {"200607": 4, "200609": 3}
    assert second.version == first.version + 1


def test_overwriting_a_range_replaces_exactly_that_range(store):
    for week in ("200607", "200609", "200610", "200611"):
        store.overwrite(week_rows(week, 2), Window.of("week", week))
    new = pa.concat_tables([week_rows("200609", 7), week_rows("200610", 1)])
    store.overwrite(new, Window.range("week", "200609", "200610"))
    assert counts(store) == {"200607": 2, "200609": 7, "200610": 1, "200611": 2}
    # An empty range write deletes the range (the window is owned by the run) when explicitly allowed.
    store.overwrite(SCHEMA.empty_table(), Window.range("week", "200609", "200610"), allow_shrink=True)
    assert counts(store) == {"200607": 2, "200611": 2}


def test_rows_outside_the_window_are_refused(store):
    with pytest.raises(ValueError, match="outside the window"):
        store.overwrite(week_rows("200608", 2), Window.of("week", "200607"))
    assert store.count() == 0


def test_unexpected_columns_fail_loudly(store):
    bad = week_rows("200607", 1).append_column("surprise", pa.array([1]))
    with pytest.raises(ValueError, match=r"unexpected \['surprise'\]"):
        store.overwrite(bad, Window.of("week", "200607"))


def test_merge_upserts_by_key(tmp_path):
    store = DeltaStore(str(tmp_path / "items"), SCHEMA)
    store.merge(week_rows("200607", 3), keys=["basket"])
    changed = pa.table({"week": ["200607"] * 2, "basket": [2, 3], "spend": [9.0, 9.0]}, schema=SCHEMA)
    result = store.merge(changed, keys=["basket"])
    table = store.read().sort_by("basket")
    assert table["basket"].to_pylist() == [0, 1, 2, 3]
    assert table["spend"].to_pylist() == [1.5, 1.5, 9.0, 9.0]
    assert result.rows_total == 4


def test_lazy_read_of_a_partition_range(store):
    for week in ("200607", "200609", "200610"):
        store.overwrite(week_rows(week, 3), Window.of("week", week))
    dataset = store.dataset(Window.range("week", "200609", "200610"))
    assert dataset.count_rows() == 6


def test_metadata_describes_the_write(store):
    meta = store.overwrite(week_rows("200607", 2), Window.of("week", "200607")).metadata()
    assert meta["dagster/row_count"] == 2 and meta["table_version"] == 1
    assert [c.name for c in meta["schema"].value.columns] == ["week", "basket", "spend"]
    assert meta["sample_rows"].value.splitlines() == [
        "| week | basket | spend |",
        "|---|---|---|",
        "| 200607 | 0 | 1.5 |",
        "| 200607 | 1 | 1.5 |",
    ]
    streamed = store.overwrite_stream(week_rows("200609", 7).to_batches(max_chunksize=3), Window.of("week", "200609"))
    assert len(streamed.metadata()["sample_rows"].value.splitlines()) == 2 + 3  # header, rule, the first batch's rows


def test_sample_rows_are_short_and_keep_the_table_intact():
    table = pa.table({"text": ["a|b\nc" + "x" * 80], "n": [1]})
    assert markdown_rows(table, width=10).splitlines()[2] == "| a\\|b cxxxx… | 1 |"


def _write_week(uri: str, week: str, n: int) -> None:
    store, window = DeltaStore(uri, SCHEMA, ["week"]), Window.of("week", week)
    if week == "200609":
        store.overwrite(week_rows(week, n), window)  # delta-rs' own write
    else:
        store.overwrite_stream(week_rows(week, n).to_batches(max_chunksize=7), window)  # pyarrow files + add actions


def test_two_processes_writing_different_partitions_at_once(tmp_path):
    uri = str(tmp_path / "tx")
    ctx = mp.get_context("spawn")
    for _round in range(3):  # repeated so the writers really race on commit numbers
        procs = [ctx.Process(target=_write_week, args=(uri, week, 50)) for week in ("200607", "200608", "200609")]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
            assert p.exitcode == 0
    assert counts(DeltaStore(uri, SCHEMA, ["week"])) == {"200607": 50, "200608": 50, "200609": 50}


def test_killed_writer_leaves_previous_version_readable(tmp_path):
    uri = str(tmp_path / "tx")
    store = DeltaStore(uri, SCHEMA, ["week"])
    store.overwrite(week_rows("200607", 10), Window.of("week", "200607"))
    before = store.version()
    # A child rewrites the partition with a large table, slowly, and is killed mid-write.
    script = textwrap.dedent(
        f"""
        import sys, pyarrow as pa
        sys.path.insert(0, {os.getcwd()!r})
        from tests.foundation.test_delta_tables import SCHEMA
        def batches():
            print("writing", flush=True)
            for i in range(10_000):
                yield pa.record_batch({{"week": ["200607"] * 10_000, "basket": list(range(10_000)),
                                        "spend": [0.5] * 10_000}}, schema=SCHEMA)
        from deltalake import write_deltalake
        write_deltalake({uri!r}, pa.RecordBatchReader.from_batches(SCHEMA, batches()), mode="overwrite",
                        predicate="week = '200607'", partition_by=["week"], target_file_size=1_000_000)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "writing"
    time.sleep(1.5)
    assert child.poll() is None, "the writer finished before it could be killed"
    child.send_signal(signal.SIGKILL)
    child.wait()
    reopened = DeltaStore(uri, SCHEMA, ["week"])
    on_disk = list((tmp_path / "tx").rglob("*.parquet"))
    assert len(on_disk) > len(reopened.table().file_uris()), "the child wrote no data files before the kill"
    assert reopened.version() == before
    assert counts(reopened) == {"200607": 10}


def test_streamed_overwrite_replaces_the_window_and_aborts_cleanly(store, monkeypatch):
    from foundation.storage import parquet_files

    monkeypatch.setattr(parquet_files, "ROW_GROUP_BYTES", 1)  # every batch reaches a data file before the abort
    store.overwrite(week_rows("200607", 4), Window.of("week", "200607"))
    store.overwrite(week_rows("200609", 2), Window.of("week", "200609"))
    result = store.overwrite_stream(
        (b for i in range(5) for b in week_rows("200607", 3, i * 3).to_batches()), Window.of("week", "200607")
    )
    assert result.rows_written == 15 and counts(store) == {"200607": 15, "200609": 2}

    def broken():
        yield from week_rows("200607", 3).to_batches()
        raise RuntimeError("line 9: not JSON")

    before_abort = set(Path(store.uri).rglob("*.parquet"))
    with pytest.raises(Exception, match="not JSON"):
        store.overwrite_stream(broken(), Window.of("week", "200607"))
    assert store.version() == result.version and counts(store) == {"200607": 15, "200609": 2}
    assert set(Path(store.uri).rglob("*.parquet")) == before_abort, "the aborted stream left its files behind"


EVENTS = pa.schema(
    [
        ("shop", pa.string()),
        ("at", pa.timestamp("ms", tz="UTC")),
        ("tags", pa.list_(pa.struct([("name", pa.string())]))),
        ("note", pa.string()),
        ("n", pa.int32()),
    ]
)


def events(shop: str, n: int) -> pa.Table:
    return pa.table(
        {
            "shop": [shop] * n,
            "at": [1_629_989_188_511 + i for i in range(n)],
            "tags": [[{"name": f"t{i % 3}"}] for i in range(n)],
            "note": ["a long free-text note that is different on every row " * 2 + str(i) for i in range(n)],
            "n": list(range(n)),
        },
        schema=EVENTS,
    )


def test_streamed_files_are_a_valid_delta_table_for_delta_rs(tmp_path):
    """The streamed path writes Parquet with pyarrow and commits add actions: delta-rs must read, filter,
    count, rewrite and compact the result as if it had written the files itself."""
    from deltalake import DeltaTable

    store = DeltaStore(str(tmp_path / "events"), EVENTS, ["shop"])
    odd = "A b/c it's"  # escaped in the folder name, verbatim in the partition value
    for _ in range(2):  # a re-run replaces, never doubles
        store.overwrite_stream(events(odd, 1000).to_batches(max_chunksize=300), Window.of("shop", odd))
    store.overwrite(events("plain", 5), Window.of("shop", "plain"))  # the delta-rs path on the same table
    both = pa.concat_tables([events("x", 3), events("y", 4)])
    store.overwrite_stream(both.to_batches(), Window.range("shop", "x", "y"))  # one stream, two partitions

    table = DeltaTable(store.uri)
    assert table.count() == 1012 and store.count() == 1012
    got = store.read(Window.of("shop", odd)).sort_by("n")
    assert got.equals(events(odd, 1000).cast(got.schema))
    assert table.to_pyarrow_table(filters=[("shop", "=", "y")]).num_rows == 4
    actions = pa.table(table.get_add_actions(flatten=True)).to_pylist()
    streamed = [a for a in actions if a["partition.shop"] == odd]
    assert sum(a["num_records"] for a in streamed) == 1000
    assert all(a["min.n"] == 0 and a["max.n"] == 999 for a in streamed)
    assert all("min.note" not in a or a["min.note"] is None for a in streamed)  # free text keeps no bounds
    table.optimize.compact()
    assert DeltaTable(store.uri).count() == 1012


def test_streamed_overwrite_of_a_table_not_partitioned_by_the_window_uses_delta_rs(tmp_path):
    store = DeltaStore(str(tmp_path / "flat"), SCHEMA)  # no partition column: the write_deltalake path
    for _ in range(2):
        result = store.overwrite_stream(week_rows("200607", 7).to_batches(max_chunksize=3), Window.of("week", "200607"))
    store.overwrite(week_rows("200609", 2), Window.of("week", "200609"))
    assert result.rows_written == 7 and counts(store) == {"200607": 7, "200609": 2}
    assert result.preview.num_rows == 3
