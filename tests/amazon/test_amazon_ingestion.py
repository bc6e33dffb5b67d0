"""Landing file -> Delta through real Dagster runs: exact counts, quarantine, idempotent re-runs, sensor."""

import json
import os

import dagster as dg
import pyarrow.compute as pc

from assets.amazon.automation import amazon_landing_sensor
from assets.amazon.partitions import category_partitions
from assets.amazon.tables import ITEMS, REVIEWS
from foundation.storage.delta_tables import Window
from scrapers.amazon.landing import LANDING_SOURCE

from .conftest import SMALL, materialize


def _check_results(result):
    return {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}


def test_ingest_counts_quarantine_and_idempotent_rerun(instance, storage, landed):
    instance.add_dynamic_partitions(category_partitions.name, [SMALL.category])
    first = materialize(instance, storage, ["amazon_reviews", "amazon_items"], SMALL.category)
    assert _check_results(first) == {"amazon_reviews_are_usable": True, "amazon_items_unique_parent_asin": True}

    reviews, items = REVIEWS.store(storage), ITEMS.store(storage)
    assert reviews.count() == landed.good_reviews
    assert items.count() == landed.good_items
    rejects = storage.quarantine("amazon_reviews", SMALL.category).store.read()
    assert rejects.num_rows == sum(landed.bad_reviews.values())
    assert {r.split(":")[0]: 0 for r in rejects["reason"].to_pylist()}.keys() == landed.bad_reviews.keys()
    assert all(loc.startswith("Toys.jsonl:") for loc in rejects["location"].to_pylist())
    meta = first.asset_materializations_for_node("amazon_reviews")[0].metadata
    assert meta["quarantined_rows"].value == sum(landed.bad_reviews.values())
    assert meta["dagster/row_count"].value == landed.good_reviews

    version = reviews.version()
    before = reviews.read().sort_by([("source_line", "ascending")])
    materialize(instance, storage, ["amazon_reviews", "amazon_items"], SMALL.category)
    after = reviews.read().sort_by([("source_line", "ascending")])
    assert reviews.version() > version
    assert after.num_rows == landed.good_reviews  # replaced, not doubled
    assert after.drop_columns([]).equals(before)
    assert items.count() == landed.good_items
    assert storage.quarantine("amazon_reviews", SMALL.category).store.count() == sum(landed.bad_reviews.values())


def test_broken_file_fails_loudly_and_keeps_the_previous_rows(instance, storage, landed):
    instance.add_dynamic_partitions(category_partitions.name, [SMALL.category])
    materialize(instance, storage, ["amazon_reviews"], SMALL.category)
    good = REVIEWS.store(storage).read(Window.of("category", SMALL.category))
    text = landed.reviews_path.read_text().splitlines()
    landed.reviews_path.write_text("\n".join(line if i % 3 else line[:20] for i, line in enumerate(text)) + "\n")
    result = materialize(instance, storage, ["amazon_reviews"], SMALL.category, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    cause = failure.event_specific_data.error.cause
    assert cause.cls_name == "TooManyRejects" and "records rejected" in cause.message
    kept = REVIEWS.store(storage).read(Window.of("category", SMALL.category))
    assert kept.num_rows == good.num_rows == landed.good_reviews


def test_sensor_adds_the_category_and_requests_one_run_per_new_file(instance, storage, landed):
    landing = storage.landing_path(LANDING_SOURCE)
    (landing / "Garden.jsonl.tmp").write_text("{}\n")  # still being copied: ignored
    (landing / "README.txt").write_text("not data\n")

    context = dg.build_sensor_context(instance=instance, resources={"storage": storage})
    result = amazon_landing_sensor(context)
    assert sorted((r.partition_key, r.asset_selection[0].to_user_string()) for r in result.run_requests) == [
        ("Toys", "amazon_items"),
        ("Toys", "amazon_reviews"),
    ]
    assert [(r.partitions_def_name, r.partition_keys) for r in result.dynamic_partitions_requests] == [
        ("amazon_category", ["Toys"])
    ]
    assert len({r.run_key for r in result.run_requests}) == 2
    instance.add_dynamic_partitions(category_partitions.name, ["Toys"])

    # Run what the sensor asked for, as the daemon would.
    for request in result.run_requests:
        run = materialize(instance, storage, request.asset_selection, request.partition_key)
        assert run.success
    assert REVIEWS.store(storage).count() == landed.good_reviews

    # Same files: nothing to do. A replaced file: exactly one run, no new partition.
    again = amazon_landing_sensor(
        dg.build_sensor_context(instance=instance, cursor=result.cursor, resources={"storage": storage})
    )
    assert again.run_requests == [] and again.dynamic_partitions_requests == []
    stat = landed.meta_path.stat()
    os.utime(landed.meta_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    replaced = amazon_landing_sensor(
        dg.build_sensor_context(instance=instance, cursor=again.cursor, resources={"storage": storage})
    )
    assert [(r.partition_key, r.asset_selection[0].to_user_string()) for r in replaced.run_requests] == [
        ("Toys", "amazon_items")
    ]
    assert replaced.dynamic_partitions_requests == []
    assert set(json.loads(replaced.cursor)) == {"Toys.jsonl", "meta_Toys.jsonl"}


def test_ingested_ratings_match_the_source_lines(instance, storage, landed):
    instance.add_dynamic_partitions(category_partitions.name, [SMALL.category])
    materialize(instance, storage, ["amazon_reviews"], SMALL.category)
    table = REVIEWS.store(storage).read()
    lines = landed.reviews_path.read_text().splitlines()
    for row in table.slice(0, 50).to_pylist():
        source = json.loads(lines[row["source_line"] - 1])
        assert (source["user_id"], source["parent_asin"], source["rating"]) == (
            row["user_id"],
            row["parent_asin"],
            row["rating"],
        )
        assert int(row["timestamp"].timestamp() * 1000) == source["timestamp"]
    assert pc.min(table["rating"]).as_py() >= 1


def test_code_location_sensor_launches_exactly_one_run_for_a_dropped_file(instance, tmp_path, monkeypatch):
    """What an integration test sees: the code location's sensor, its central storage, one new reviews file."""
    from pipelines.definitions import build_definitions
    from sandbox.amazon import AmazonSandboxSpec, generate

    monkeypatch.setenv("STOREFRONT_ROOT", str(tmp_path / "root"))
    location = build_definitions()
    landing = tmp_path / "root" / "landing" / "amazon"
    files = generate(tmp_path / "elsewhere", AmazonSandboxSpec(category="Books", n_users=50, n_items=20))
    landing.mkdir(parents=True)
    files.reviews_path.rename(landing / "Books.jsonl")

    sensor = location.get_sensor_def("amazon_landing_sensor")
    storage = {"storage": location.resources["storage"]}  # the centrally bound one, rooted at STOREFRONT_ROOT
    result = sensor(dg.build_sensor_context(instance=instance, resources=storage))
    assert [(r.job_name or sensor.job_name, r.partition_key) for r in result.run_requests] == [
        ("amazon_ingest_job", "Books")
    ]
    assert result.run_requests[0].run_key.startswith("Books.jsonl:")
