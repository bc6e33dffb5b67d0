"""Hostile cases for silent data loss (issue 16, items 5, 7 and 8): the shrink guard, the quarantine (kept before
a failing run re-raises, whole records or their offset/length/hash, no URL secrets), non-finite Amazon ratings on
every parse path, empty and shrunk landed files, multi-category metadata, ragged and wrongly dated dunnhumby
lines, and a store database that answers with no rows. Each case checks the exact rows written, the exact
quarantined rows with their reasons, that the good records of the batch survived, and that a failing run left
the previous table version as it was."""

from __future__ import annotations

import gzip
import hashlib
import json
import sqlite3
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from assets.amazon.checks import review_problems
from assets.amazon.definitions import defs as amazon_defs
from assets.amazon.partitions import category_partitions
from assets.amazon.resources import AmazonModelSettingsResource
from assets.amazon.tables import REVIEWS
from assets.dunnhumby.definitions import defs as dunnhumby_defs
from assets.dunnhumby.partitions import week_partitions
from assets.dunnhumby.resources import DunnhumbyModelsResource
from assets.dunnhumby.tables import LANDING_SOURCE as DUNNHUMBY_LANDING
from assets.dunnhumby.tables import TRANSACTIONS
from assets.retail.definitions import defs as retail_defs
from assets.retail.partitions import store_partitions
from assets.retail.resources import RetailStoresResource
from assets.retail.tables import CUSTOMERS_QUARANTINE, STORE_CUSTOMERS
from foundation.resources import StorageResource
from foundation.run_config import ALLOW_SHRINK_TAG
from foundation.storage import quarantine as quarantine_module
from foundation.storage.delta_tables import DeltaStore, ShrinkRefused, Window
from sandbox.dunnhumby import DunnhumbySandbox, format_rows
from sandbox.retail import build_store_databases
from scrapers.amazon.jsonl import parse_item_chunk, parse_review_chunk
from scrapers.amazon.landing import LANDING_SOURCE as AMAZON_LANDING
from scrapers.dunnhumby.week_files import FileRejected, parse_week_file
from scrapers.retail.store_schema import CUSTOMER

# -- helpers -----------------------------------------------------------------------------------------------------

WEEKS = pa.schema([("week", pa.string()), ("n", pa.int64())])


def week_rows(week: str, n: int) -> pa.Table:
    return pa.table({"week": [week] * n, "n": list(range(n))}, schema=WEEKS)


def per_week(store: DeltaStore) -> dict[str, int]:
    return {e["values"]: e["counts"] for e in pc.value_counts(store.read()["week"]).to_pylist()}


def review(i: int, rating: object = 4.0) -> str:
    """One Amazon Reviews 2023 review line; `rating` is dumped as JSON (NaN -> `NaN`, inf -> `Infinity`)."""
    record = {
        "rating": rating,
        "title": "t",
        "text": "fine",
        "images": [],
        "asin": f"A{i}",
        "parent_asin": f"P{i % 7}",
        "user_id": f"U{i}",
        "timestamp": 1_600_000_000_000 + i,
        "helpful_vote": 0,
        "verified_purchase": True,
    }
    return json.dumps(record)


def land_reviews(storage: StorageResource, category: str, lines: list[str]) -> Path:
    path = storage.landing_path(AMAZON_LANDING) / f"{category}.jsonl"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def amazon_run(instance, storage, category=None, run_config=None, tags=None, selection=("amazon_reviews",)):
    return dg.materialize(
        [*amazon_defs.assets, *amazon_defs.asset_checks],
        selection=list(selection),
        partition_key=category,
        instance=instance,
        resources=AMAZON_RESOURCES(storage),
        run_config=run_config,
        tags=tags,
        raise_on_error=False,
    )


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    return str(failure.event_specific_data.error)


def quarantined(storage: StorageResource, source: str, partition: str) -> list[dict]:
    store = storage.quarantine(source, partition).store
    if not store.exists():
        return []
    rows = store.read(Window.of("source_partition", partition)).to_pylist()
    return sorted(rows, key=lambda r: r["location"])


def category_rows(storage: StorageResource, category: str) -> pa.Table:
    return REVIEWS.store(storage).read(Window.of("category", category)).sort_by("source_line")


def AMAZON_RESOURCES(storage: StorageResource) -> dict:  # noqa: N802
    return {"storage": storage, "amazon_model_settings": AmazonModelSettingsResource()}


ALLOW = {"ops": {"amazon_reviews": {"config": {"allow_shrink": True}}}}


# -- the shrink guard (foundation) -------------------------------------------------------------------------------


def test_guard_refuses_an_empty_window_before_any_commit(tmp_path):
    store = DeltaStore(str(tmp_path / "t"), WEEKS, ["week"])
    store.overwrite(week_rows("200607", 10), Window.of("week", "200607"))
    version = store.version()
    with pytest.raises(ShrinkRefused, match=r"200607: 10 -> 0 rows.*allow_shrink"):
        store.overwrite(WEEKS.empty_table(), Window.of("week", "200607"))
    assert store.version() == version and per_week(store) == {"200607": 10}
    # Half of the rows is still accepted; an explicit allowance empties the window.
    assert store.overwrite(week_rows("200607", 5), Window.of("week", "200607")).rows_written == 5
    store.overwrite(WEEKS.empty_table(), Window.of("week", "200607"), allow_shrink=True)
    assert per_week(store) == {}


def test_guard_judges_each_partition_of_a_range(tmp_path):
    store = DeltaStore(str(tmp_path / "t"), WEEKS, ["week"])
    for week, n in (("200607", 10), ("200609", 10), ("200610", 4)):
        store.overwrite(week_rows(week, n), Window.of("week", week))
    version = store.version()
    # The range grows in total (10 + 4 -> 4 + 30 rows) but 200609 keeps only 4 of its 10: refused.
    grown = pa.concat_tables([week_rows("200609", 4), week_rows("200610", 30)])
    with pytest.raises(ShrinkRefused) as refused:
        store.overwrite(grown, Window.range("week", "200609", "200610"))
    assert refused.value.shrunk == {"200609": (10, 4)}
    assert store.version() == version and per_week(store) == {"200607": 10, "200609": 10, "200610": 4}
    store.overwrite(grown, Window.range("week", "200609", "200610"), allow_shrink=True)
    assert per_week(store) == {"200607": 10, "200609": 4, "200610": 30}


@pytest.mark.parametrize("partitioned", [True, False], ids=["pyarrow-files", "delta-rs"])
def test_streamed_overwrite_refuses_to_shrink_on_both_write_paths(tmp_path, partitioned):
    # A table partitioned by the window's column streams through pyarrow files; any other through delta-rs.
    store = DeltaStore(str(tmp_path / "t"), WEEKS, ["week"] if partitioned else [])
    store.overwrite_stream(week_rows("200607", 20).to_batches(max_chunksize=6), Window.of("week", "200607"))
    store.overwrite(week_rows("200609", 3), Window.of("week", "200609"))
    version, files = store.version(), set(Path(store.uri).rglob("*.parquet"))
    with pytest.raises(ShrinkRefused, match="200607: 20 -> 9 rows"):
        store.overwrite_stream(week_rows("200607", 9).to_batches(max_chunksize=4), Window.of("week", "200607"))
    assert store.version() == version and per_week(store) == {"200607": 20, "200609": 3}
    assert set(Path(store.uri).rglob("*.parquet")) == files, "the refused stream left files behind"
    streamed = store.overwrite_stream(
        week_rows("200607", 9).to_batches(max_chunksize=4), Window.of("week", "200607"), allow_shrink=True
    )
    assert streamed.rows_written == 9 and per_week(store) == {"200607": 9, "200609": 3}


# -- the quarantine (foundation) ---------------------------------------------------------------------------------


def test_quarantine_keeps_long_records_by_offset_length_and_hash_and_strips_url_secrets(storage, tmp_path):
    big = ("é" * (quarantine_module.MAX_RAW_CHARS + 500)).encode()
    source = tmp_path / "landed.jsonl"
    source.write_bytes(b"good line\n" + big + b"\n")
    q = storage.quarantine("hostile", "p1")
    q.reject(big, "bad_json: too long", "landed.jsonl:2", offset=10)
    q.reject("short", "bad_image: 404", "https://user:pw@cdn.example.com:8443/img/1.jpg?token=SECRET#frag")
    q.commit("run-1")
    long, short = sorted(quarantined(storage, "hostile", "p1"), key=lambda r: r["raw_bytes"], reverse=True)
    assert long["raw_truncated"] and len(long["raw"]) == quarantine_module.MAX_RAW_CHARS
    assert long["raw_bytes"] == len(big) and long["raw_offset"] == 10
    data = source.read_bytes()[long["raw_offset"] : long["raw_offset"] + long["raw_bytes"]]
    assert hashlib.sha256(data).hexdigest() == long["raw_sha256"]  # the rest is found, and verified, in the file
    assert short == short | {"raw": "short", "raw_truncated": False, "raw_bytes": 5, "raw_offset": None}
    assert short["location"] == "https://cdn.example.com:8443/img/1.jpg"
    assert "SECRET" not in json.dumps(quarantined(storage, "hostile", "p1"), default=str)


def test_quarantine_table_from_before_gains_the_new_columns(storage):
    old_schema = pa.schema([f for f in quarantine_module.QUARANTINE_SCHEMA if not f.name.startswith("raw_")])
    old = storage.quarantine("hostile", "p1").store
    legacy = DeltaStore(old.uri, old_schema, ["source_partition"])
    row = {"source_partition": "p0", "location": "f:1", "reason": "bad_json: x", "raw": "{", "run_id": "old"}
    legacy.overwrite(
        pa.Table.from_pylist([row | {"quarantined_at": None}], schema=old_schema), Window.of("source_partition", "p0")
    )
    q = storage.quarantine("hostile", "p1")
    q.reject("}", "bad_json: y", "f:2", offset=3)
    q.commit("new")
    rows = {r["source_partition"]: r for r in old.read().to_pylist()}
    assert rows["p0"]["raw"] == "{" and rows["p0"]["raw_sha256"] is None  # kept, new columns empty
    assert rows["p1"]["raw_offset"] == 3 and rows["p1"]["raw_sha256"] == hashlib.sha256(b"}").hexdigest()


# -- Amazon ------------------------------------------------------------------------------------------------------


def test_non_finite_and_out_of_range_ratings_are_rejected_identically_on_both_parse_paths():
    hostile = {2: float("nan"), 3: float("inf"), 4: float("-inf"), 5: 7, 6: 0.5}
    lines = [review(i, hostile.get(i, 4.0)) for i in range(1, 9)]
    clean = ("\n".join(lines) + "\n").encode()
    # A truncated last line makes Arrow refuse the chunk, so the same lines take the line-by-line path.
    fallback = clean + b'{"rating": 4.0, "asin": \n'
    arrow, by_line = parse_review_chunk(1, clean, "C", "f"), parse_review_chunk(1, fallback, "C", "f")
    expected = [
        (2, "out_of_range: rating=nan not in 1..5"),
        (3, "out_of_range: rating=inf not in 1..5"),
        (4, "out_of_range: rating=-inf not in 1..5"),
        (5, "out_of_range: rating=7.0 not in 1..5"),
        (6, "out_of_range: rating=0.5 not in 1..5"),
    ]
    assert [(r.line, r.reason) for r in arrow.rejects] == expected
    assert [(r.line, r.reason) for r in by_line.rejects][:5] == expected
    assert by_line.rejects[5].line == 9 and by_line.rejects[5].reason.startswith("bad_json")
    assert arrow.table.equals(by_line.table) and arrow.table["source_line"].to_pylist() == [1, 7, 8]
    # `1e400` (Arrow: "number too big"; Python: inf) ends as the same reject.
    huge = parse_review_chunk(
        1, (review(1) + "\n" + review(2).replace('"rating": 4.0', '"rating": 1e400') + "\n").encode(), "C", "f"
    )
    assert [(r.line, r.reason) for r in huge.rejects] == [(2, "out_of_range: rating=inf not in 1..5")]
    # Each reject knows its byte offset in the chunk.
    assert [clean[r.offset :].split(b"\n", 1)[0] for r in arrow.rejects] == [r.raw for r in arrow.rejects]


def test_item_metadata_rejects_non_finite_numbers():
    base = {"parent_asin": "P1", "title": "x"}
    lines = [
        base,
        base | {"parent_asin": "P2", "average_rating": float("nan")},
        base | {"parent_asin": "P3", "rating_number": float("inf")},
        base | {"parent_asin": "P4", "average_rating": 9.5},
        base | {"parent_asin": "P5", "price": float("nan")},
        base | {"parent_asin": "P6", "price": "Infinity"},
    ]
    chunk = "".join(json.dumps(line) + "\n" for line in lines).encode()
    parsed = parse_item_chunk(1, chunk, "C", "meta_C.jsonl")
    assert [(r.line, r.reason.split(":")[0]) for r in parsed.rejects] == [
        (2, "bad_type"),
        (3, "bad_type"),
        (4, "bad_type"),
    ]
    assert parsed.table["parent_asin"].to_pylist() == ["P1", "P5", "P6"]
    # A price that is not a finite number is kept as its text only, never as NaN or inf.
    assert parsed.table["price"].to_pylist() == [None, None, None]
    assert parsed.table["price_raw"].to_pylist() == [None, "nan", "Infinity"]


def test_blocking_check_counts_non_finite_ratings_as_out_of_range(instance, storage):
    instance.add_dynamic_partitions(category_partitions.name, ["Toys"])
    land_reviews(storage, "Toys", [review(i) for i in range(1, 11)])
    assert amazon_run(instance, storage, "Toys").success
    # A NaN that got in some other way (an older ingestion, a manual repair) is caught by the check.
    rows = category_rows(storage, "Toys")
    poisoned = rows.set_column(
        rows.schema.get_field_index("rating"), "rating", pa.array([float("nan")] + [4.0] * 9, pa.float32())
    )
    REVIEWS.store(storage).overwrite(poisoned, Window.of("category", "Toys"))
    # (what the check runs; Dagster cannot run a partitioned check without its asset in one job)
    assert review_problems(REVIEWS.store(storage), ["Toys"]) == {
        "rows": 10,
        "null_keys": 0,
        "ratings_out_of_range": 1,
    }


def test_nan_ratings_are_quarantined_and_the_good_lines_stored(instance, storage):
    instance.add_dynamic_partitions(category_partitions.name, ["Toys"])
    lines = [review(i, float("nan") if i == 40 else 4.0) for i in range(1, 41)]
    land_reviews(storage, "Toys", lines)
    result = amazon_run(instance, storage, "Toys", selection=("amazon_reviews",))
    assert result.success
    assert [e.passed for e in result.get_asset_check_evaluations()] == [True]
    assert category_rows(storage, "Toys")["source_line"].to_pylist() == list(range(1, 40))
    (reject,) = quarantined(storage, "amazon_reviews", "Toys")
    assert (reject["location"], reject["reason"]) == ("Toys.jsonl:40", "out_of_range: rating=nan not in 1..5")
    assert reject["raw"] == lines[39] and reject["raw_offset"] == sum(len(line) + 1 for line in lines[:39])


@pytest.mark.parametrize("content", ["", "\n\n  \n"], ids=["empty", "blank-lines"])
def test_empty_landed_file_fails_before_any_commit_and_keeps_the_category(instance, storage, content):
    instance.add_dynamic_partitions(category_partitions.name, ["Toys"])
    path = land_reviews(storage, "Toys", [review(i) for i in range(1, 21)])
    assert amazon_run(instance, storage, "Toys").success
    store, before = REVIEWS.store(storage), category_rows(storage, "Toys")
    version = store.version()
    path.write_text(content)
    for run_config in (None, ALLOW):  # not even an allowed shrink takes an empty file
        result = amazon_run(instance, storage, "Toys", run_config=run_config)
        assert not result.success and "holds no usable record" in failure_message(result)
    assert store.version() == version and category_rows(storage, "Toys").equals(before)
    assert quarantined(storage, "amazon_reviews", "Toys") == []


def test_too_many_rejects_commit_the_quarantine_before_the_run_fails(instance, storage):
    instance.add_dynamic_partitions(category_partitions.name, ["Toys"])
    path = land_reviews(storage, "Toys", [review(i) for i in range(1, 21)])
    assert amazon_run(instance, storage, "Toys").success
    store, before = REVIEWS.store(storage), category_rows(storage, "Toys")
    version = store.version()
    lines = [review(i) if i % 4 else review(i)[:25] for i in range(1, 21)]  # every 4th line truncated
    path.write_text("".join(line + "\n" for line in lines))
    result = amazon_run(instance, storage, "Toys")
    assert not result.success and "5 of 20 records rejected" in failure_message(result)
    assert store.version() == version and category_rows(storage, "Toys").equals(before)
    rejects = quarantined(storage, "amazon_reviews", "Toys")
    assert sorted(int(r["location"].split(":")[1]) for r in rejects) == [4, 8, 12, 16, 20]
    assert all(
        r["reason"].startswith("bad_json: ") and r["raw"] == lines[int(r["location"].split(":")[1]) - 1]
        for r in rejects
    )


def test_shrunk_amazon_file_fails_unless_allowed(instance, storage):
    instance.add_dynamic_partitions(category_partitions.name, ["Toys"])
    path = land_reviews(storage, "Toys", [review(i) for i in range(1, 61)])
    assert amazon_run(instance, storage, "Toys").success
    store, before = REVIEWS.store(storage), category_rows(storage, "Toys")
    version = store.version()
    path.write_text("".join(review(i) + "\n" for i in range(1, 20)) + "not json\n")  # 19 good lines of 60
    result = amazon_run(instance, storage, "Toys")
    assert not result.success and "Toys: 60 -> 19 rows" in failure_message(result)
    assert store.version() == version and category_rows(storage, "Toys").equals(before)
    assert [(r["location"], r["reason"][:8]) for r in quarantined(storage, "amazon_reviews", "Toys")] == [
        ("Toys.jsonl:20", "bad_json")
    ]  # committed although the run failed
    # The operator accepts the loss: from the launchpad's config, or with the run tag (e.g. on a backfill).
    assert amazon_run(instance, storage, "Toys", run_config=ALLOW).success
    assert category_rows(storage, "Toys")["source_line"].to_pylist() == list(range(1, 20))
    path.write_text("".join(review(i) + "\n" for i in range(1, 3)))
    assert amazon_run(instance, storage, "Toys", tags={ALLOW_SHRINK_TAG: "true"}).success
    assert category_rows(storage, "Toys")["source_line"].to_pylist() == [1, 2]
    assert quarantined(storage, "amazon_reviews", "Toys") == []


def test_multi_category_run_keeps_every_category_metadata(instance, storage):
    categories = ["Books", "Toys"]
    instance.add_dynamic_partitions(category_partitions.name, categories)
    land_reviews(storage, "Books", [review(i) for i in range(1, 6)])
    land_reviews(storage, "Toys", [review(i) for i in range(1, 31)] + ["{broken"])
    result = dg.materialize(
        [*amazon_defs.assets, *amazon_defs.asset_checks],
        selection=["amazon_reviews"],
        instance=instance,
        resources=AMAZON_RESOURCES(storage),
        tags={"dagster/asset_partition_range_start": "Books", "dagster/asset_partition_range_end": "Toys"},
    )
    (materialization, *_) = result.asset_materializations_for_node("amazon_reviews")
    meta = materialization.metadata
    per_category = meta["categories"].value
    assert {c: (v["rows_written"], v["quarantined_rows"], v["source_lines"]) for c, v in per_category.items()} == {
        "Books": (5, 0, 5),
        "Toys": (30, 1, 31),
    }
    assert (meta["rows_written"].value, meta["quarantined_rows"].value, meta["source_lines"].value) == (35, 1, 36)
    assert "source_file" not in meta  # per-file values of only the last category are not shown as the run's
    assert REVIEWS.store(storage).count() == 35


# -- dunnhumby ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def week_lines() -> list[str]:
    """A sandbox week in the official variant: the header and its lines."""
    rows = DunnhumbySandbox(seed=5, n_customers=40, n_products=100).week_rows("200607")
    return format_rows(rows, "official").splitlines()


def dunnhumby_run(instance, storage, week="200607", run_config=None):
    return dg.materialize(
        [*dunnhumby_defs.assets, *dunnhumby_defs.asset_checks],
        selection=["dunnhumby_transactions"],
        partition_key=week,
        instance=instance,
        resources={"storage": storage, "dunnhumby_models": DunnhumbyModelsResource()},
        run_config=run_config,
        raise_on_error=False,
    )


def land_week(storage, lines: list[str], week="200607") -> Path:
    path = storage.landing_path(DUNNHUMBY_LANDING) / f"transactions_{week}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_ragged_csv_rows_are_quarantined_with_file_and_line(tmp_path, week_lines):
    lines = list(week_lines)
    lines[3] += ",SURPLUS"  # file line 4: 23 fields
    lines[7] = lines[7].rsplit(",", 2)[0]  # file line 8: 20 fields
    lines.insert(10, "")  # file line 11: blank, neither a row nor a reject
    path = tmp_path / "transactions_200607.csv"
    path.write_text("\n".join(lines) + "\n")
    parsed = parse_week_file(path)
    assert [(r.location, r.reason) for r in parsed.rejects] == [
        ("transactions_200607.csv:4", "ragged_row: 23 fields, the header has 22"),
        ("transactions_200607.csv:8", "ragged_row: 20 fields, the header has 22"),
    ]
    assert [r.raw for r in parsed.rejects] == [lines[3], lines[7]]
    data_lines = len(week_lines) - 1
    assert parsed.table.num_rows == data_lines - 2 and parsed.blank_lines == 1 and parsed.rows_read == data_lines
    # Every kept row carries its true file line: the ragged and blank lines are skipped, not renumbered over.
    kept = parsed.table["SOURCE_LINE"].to_pylist()
    assert kept == [n for n in range(2, len(lines) + 1) if n not in (4, 8, 11)]
    assert parsed.table["SPEND"].null_count == 0 and parsed.table["STORE_REGION"].null_count == 0


def test_rows_dated_outside_their_week_are_rejects_and_the_profile_passes(instance, storage, week_lines):
    instance.add_dynamic_partitions(week_partitions.name, ["200607"])
    lines = list(week_lines)
    header = lines[0].split(",")
    date_at = header.index("SHOP_DATE")
    fields = lines[5].split(",")
    fields[date_at] = "20060320"  # three weeks later
    lines[5] = ",".join(fields)
    land_week(storage, lines)
    result = dunnhumby_run(instance, storage)
    assert result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed  # no WARN left for the week: the line was rejected at ingestion
    assert TRANSACTIONS.store(storage).count() == len(lines) - 2
    assert 6 not in TRANSACTIONS.store(storage).read()["SOURCE_LINE"].to_pylist()
    (reject,) = quarantined(storage, DUNNHUMBY_LANDING, "200607")
    assert reject["location"] == "transactions_200607.csv:6" and reject["reason"] == (
        "date_outside_week: 20060320 is not in shop week 200607 (2006-04-10..2006-04-16)"
    )


def test_ragged_week_through_the_asset_keeps_good_lines_and_the_quarantine(instance, storage, week_lines):
    instance.add_dynamic_partitions(week_partitions.name, ["200607"])
    lines = list(week_lines)
    lines[2] += ",x,y"
    land_week(storage, lines)
    result = dunnhumby_run(instance, storage)
    assert result.success
    assert TRANSACTIONS.store(storage).count() == len(lines) - 2
    assert [(r["location"], r["reason"]) for r in quarantined(storage, DUNNHUMBY_LANDING, "200607")] == [
        ("transactions_200607.csv:3", "ragged_row: 24 fields, the header has 22")
    ]
    week_meta = result.asset_materializations_for_node("dunnhumby_transactions")[0].metadata["weeks"].value
    assert week_meta["200607"]["quarantined"] == 1 and week_meta["200607"]["rows_read"] == len(lines) - 1


def test_shrunk_or_header_only_week_fails_and_keeps_the_stored_week(instance, storage, week_lines):
    instance.add_dynamic_partitions(week_partitions.name, ["200607"])
    land_week(storage, week_lines)
    assert dunnhumby_run(instance, storage).success
    store = TRANSACTIONS.store(storage)
    version, before = store.version(), store.read().sort_by("SOURCE_LINE")
    keep = (len(week_lines) - 1) // 3
    land_week(storage, week_lines[: 1 + keep])
    result = dunnhumby_run(instance, storage)
    assert not result.success and f"200607: {len(week_lines) - 1:,} -> {keep:,} rows" in failure_message(result)
    assert store.version() == version and store.read().sort_by("SOURCE_LINE").equals(before)
    land_week(storage, week_lines[:1])
    result = dunnhumby_run(instance, storage)
    assert not result.success and "no_rows" in failure_message(result)
    assert store.version() == version
    assert [r["reason"].split(":")[0] for r in quarantined(storage, DUNNHUMBY_LANDING, "200607")] == ["no_rows"]
    with pytest.raises(FileRejected, match="empty_file"):
        parse_week_file(_empty_gz(storage))


def _empty_gz(storage) -> Path:
    path = storage.landing_path(DUNNHUMBY_LANDING) / "transactions_200609.csv.gz"
    with gzip.open(path, "wb"):
        pass
    return path


# -- retail ------------------------------------------------------------------------------------------------------


def test_store_database_with_no_rows_fails_instead_of_emptying_the_partition(instance, storage, tmp_path):
    urls = build_store_databases(tmp_path / "stores", n_stores=2, n_people=60, n_items=40, seed=11)
    instance.add_dynamic_partitions(store_partitions.name, list(urls))
    resources = {"storage": storage, "retail_stores": RetailStoresResource(store_urls=urls)}
    both = {"dagster/asset_partition_range_start": "store_1", "dagster/asset_partition_range_end": "store_2"}

    def ingest(run_config=None):
        return dg.materialize(
            [*retail_defs.assets, *retail_defs.asset_checks],
            selection=["store_customers"],
            instance=instance,
            resources=resources,
            tags=both,
            run_config=run_config,
            raise_on_error=False,
        )

    assert ingest().success
    store = STORE_CUSTOMERS.store(storage)
    version = store.version()
    counts = {e["values"]: e["counts"] for e in pc.value_counts(store.read()["store_id"]).to_pylist()}
    before = store.read().sort_by([("store_id", "ascending"), ("customer_id", "ascending")])
    with sqlite3.connect(urls["store_2"].removeprefix("sqlite:///")) as db:
        db.execute(f'DELETE FROM "{CUSTOMER.name}"')  # the database answers, with nothing
    result = ingest()
    assert not result.success and f"store_2: {counts['store_2']:,} -> 0 rows" in failure_message(result)
    assert store.version() == version
    assert store.read().sort_by([("store_id", "ascending"), ("customer_id", "ascending")]).equals(before)
    # Allowed explicitly, the store's partition empties and store_1's rows are rewritten unchanged.
    assert ingest({"ops": {"store_customers": {"config": {"allow_shrink": True}}}}).success
    after = {e["values"]: e["counts"] for e in pc.value_counts(store.read()["store_id"]).to_pylist()}
    assert after == {"store_1": counts["store_1"]}


def test_store_with_too_many_rejects_keeps_them_in_the_quarantine(instance, storage, tmp_path):
    urls = build_store_databases(tmp_path / "stores", n_stores=1, n_people=60, n_items=40, seed=11)
    instance.add_dynamic_partitions(store_partitions.name, list(urls))
    resources = {"storage": storage, "retail_stores": RetailStoresResource(store_urls=urls)}

    def ingest():
        return dg.materialize(
            [*retail_defs.assets, *retail_defs.asset_checks],
            selection=["store_customers"],
            partition_key="store_1",
            instance=instance,
            resources=resources,
            raise_on_error=False,
        )

    assert ingest().success
    store = STORE_CUSTOMERS.store(storage)
    version, before = store.version(), store.read().sort_by("customer_id")
    with sqlite3.connect(urls["store_1"].removeprefix("sqlite:///")) as db:
        ids = [row[0] for row in db.execute(f'SELECT "ID" FROM "{CUSTOMER.name}" ORDER BY "ID" LIMIT 10')]
        db.execute(
            f'UPDATE "{CUSTOMER.name}" SET "FirstName" = NULL, "LastName" = NULL, "PhoneNumber" = NULL, '
            f'"EmailAddress" = NULL, "Address" = NULL WHERE "ID" IN ({",".join(map(str, ids))})'
        )
    result = ingest()
    assert not result.success and "TooManyRejects" in failure_message(result)
    assert store.version() == version and store.read().sort_by("customer_id").equals(before)
    rejects = quarantined(storage, CUSTOMERS_QUARANTINE, "store_1")
    planted = {int(r["location"].rsplit("/", 1)[1]) for r in rejects}
    assert set(ids) <= planted and len(planted) == len(ids) + 1  # + the sandbox's own identity-less customer
    assert {r["reason"] for r in rejects} == {"no_identity: no name, address, phone or e-mail"}
