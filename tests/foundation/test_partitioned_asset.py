"""A partitioned asset built on the Delta helper: single partitions, re-runs and a range backfill
materialised on a real temporary instance configured by the repo's dagster.yaml."""

import os
import subprocess
import sys

import dagster as dg
import pyarrow as pa

from foundation.resources import REPO_ROOT, StorageResource
from foundation.storage.delta_tables import Window

WEEKS = dg.StaticPartitionsDefinition(["200607", "200609", "200610", "200611"])
SCHEMA = pa.schema([("week", pa.string()), ("row", pa.int64())])


@dg.asset(partitions_def=WEEKS, backfill_policy=dg.BackfillPolicy.single_run())
def weekly_rows(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    keys = context.partition_keys
    table = pa.table({"week": [k for k in keys for _ in range(3)], "row": [i for _ in keys for i in range(3)]})
    window = Window.range("week", keys[0], keys[-1]) if len(keys) > 1 else Window.of("week", keys[0])
    result = storage.delta("weekly_rows", SCHEMA, ["week"]).overwrite(table, window)
    return dg.MaterializeResult(metadata=result.metadata())


def test_partition_reruns_and_range_backfill_keep_rows_exact(instance, storage):
    for key in ("200607", "200607", "200609"):
        assert dg.materialize(
            [weekly_rows], partition_key=key, instance=instance, resources={"storage": storage}
        ).success
    ranged = dg.materialize(
        [weekly_rows],
        instance=instance,
        resources={"storage": storage},
        tags={"dagster/asset_partition_range_start": "200609", "dagster/asset_partition_range_end": "200611"},
    )
    assert ranged.success
    table = storage.delta("weekly_rows", SCHEMA, ["week"]).read()
    weeks = table["week"].to_pylist()
    assert {w: weeks.count(w) for w in set(weeks)} == {"200607": 3, "200609": 3, "200610": 3, "200611": 3}
    latest = instance.get_latest_materialization_event(dg.AssetKey("weekly_rows"))
    assert latest.asset_materialization.metadata["dagster/row_count"].value == 12
    assert instance.get_materialized_partitions(dg.AssetKey("weekly_rows")) == set(WEEKS.get_partition_keys())


def test_code_location_loads_and_validates(instance):
    # `instance` exports DAGSTER_HOME: Dagster's default SQLite storage lives under it (the repo's dagster.yaml).
    from pipelines.definitions import defs

    jobs = {j.name for j in defs.resolve_all_job_defs()}
    one_per_domain = (
        "amazon_ingest_job",
        "code_crawl_job",
        "dunnhumby_weekly_job",
        "retail_store_job",
        "sneakers_ingest",
    )
    assert jobs >= set(one_per_domain)  # every domain's jobs merged into the one code location
    out = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "pipelines.definitions"],
        cwd=REPO_ROOT,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]


def test_cli_lists_its_commands():
    out = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "--help"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and "demo" in out.stdout


def test_storage_layout(storage: StorageResource, tmp_path):
    assert storage.uri("delta", "x").endswith("/root/delta/x")
    assert storage.landing_path("dunnhumby").is_dir()
    assert storage.tfrecords_uri("sneakers", "q=1").endswith("/root/tfrecords/sneakers/q=1")


def test_instance_fixture_uses_repo_config(instance):
    assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    assert not instance.is_ephemeral
