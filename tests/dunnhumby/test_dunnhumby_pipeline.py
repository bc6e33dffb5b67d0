"""End to end on real Dagster and real Delta tables: sensor, weekly runs, range backfill, training, scoring."""

import json
import shutil
from datetime import timedelta

import dagster as dg
import polars as pl
import pyarrow.compute as pc
import pytest

from assets.dunnhumby.automation import SENSOR_NAME, TRAINING_JOB_NAME, WEEKLY_JOB_NAME
from assets.dunnhumby.definitions import defs as dunnhumby_defs
from assets.dunnhumby.ingestion import dunnhumby_shop_calendar
from assets.dunnhumby.partitions import week_partitions
from assets.dunnhumby.resources import DunnhumbyModelsResource
from assets.dunnhumby.tables import (
    BASKETS,
    CALENDAR,
    LANDING_SOURCE,
    MISSION_MODEL,
    NEXT_BASKET_MODEL,
    NEXT_BASKET_SCORES,
    TRANSACTIONS,
    WEEK_MISSIONS,
)
from sandbox.dunnhumby import DunnhumbySandbox, write_calendar, write_excel_mangled
from scrapers.dunnhumby.profiling import empty_or_broken, profile_week, profile_weeks, profiles_markdown
from scrapers.dunnhumby.week_files import parse_week_file, shop_weeks

TINY_MODELS = DunnhumbyModelsResource(mission_k_grid=[4, 6], mission_max_iter=10, next_basket_preset="tiny")


def definitions(storage, models=TINY_MODELS) -> dg.Definitions:
    return dg.Definitions(
        assets=dunnhumby_defs.assets,
        asset_checks=dunnhumby_defs.asset_checks,
        jobs=dunnhumby_defs.jobs,
        sensors=dunnhumby_defs.sensors,
        resources={"storage": storage, "dunnhumby_models": models},
    )


def run_weekly(defs, instance, weeks):
    """One weekly-job run: a single week, or a range as one run (what a single-run backfill launches)."""
    job = defs.resolve_job_def(WEEKLY_JOB_NAME)
    if len(weeks) == 1:
        return job.execute_in_process(instance=instance, partition_key=weeks[0], raise_on_error=False)
    tags = {"dagster/asset_partition_range_start": weeks[0], "dagster/asset_partition_range_end": weeks[-1]}
    return job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)


def evaluate_sensor(defs, instance, storage, cursor):
    sensor = defs.resolve_sensor_def(SENSOR_NAME)
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"storage": storage})
    result = sensor(context)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def test_profile_flags_out_of_domain_values_and_dates_outside_the_week(tmp_path):
    sandbox = DunnhumbySandbox(seed=5, n_customers=40, n_products=100)
    frame = pl.from_arrow(parse_week_file(sandbox.write_week(tmp_path, "200607")).table)
    assert profile_week(frame, "200607")["problems"] == []
    broken = frame.with_columns(
        pl.when(pl.col("SOURCE_LINE") == 2)
        .then(pl.lit("XXXL"))
        .otherwise(pl.col("STORE_FORMAT"))
        .alias("STORE_FORMAT"),
        pl.when(pl.col("SOURCE_LINE") == 3)
        .then(pl.col("SHOP_DATE") + timedelta(days=9))
        .otherwise(pl.col("SHOP_DATE"))
        .alias("SHOP_DATE"),
    )
    profile = profile_week(broken, "200607")
    assert profile["out_of_domain"] == {"STORE_FORMAT": ["XXXL"]}
    assert profile["dates_outside_week"] == 1 and len(profile["problems"]) == 2


@pytest.mark.slow
def test_calendar_asset(storage, instance):
    write_calendar(storage.landing_path(LANDING_SOURCE))
    result = dg.materialize([dunnhumby_shop_calendar], instance=instance, resources={"storage": storage})
    assert result.success
    calendar = CALENDAR.store(storage).read()
    assert calendar.num_rows == 142 and calendar["SHOP_WEEK"][0].as_py() == "200607"


@pytest.mark.slow
def test_sensor_launches_exactly_one_run_per_new_file(storage, instance):
    defs = definitions(storage)
    landing = storage.landing_path(LANDING_SOURCE)
    sandbox = DunnhumbySandbox(seed=5, n_customers=60, n_products=150)
    (landing / "README.txt").write_text("not a week file")
    (landing / ".transactions_200608.csv.gz.tmp").write_text("half-copied")

    first = evaluate_sensor(defs, instance, storage, None)
    assert not first.run_requests and first.skip_reason is not None

    sandbox.write_week(landing, "200607")
    second = evaluate_sensor(defs, instance, storage, first.cursor)
    assert [r.partition_key for r in second.run_requests] == ["200607"]
    assert instance.get_dynamic_partitions(week_partitions.name) == ["200607"]

    third = evaluate_sensor(defs, instance, storage, second.cursor)
    assert not third.run_requests  # the cursor remembers the file

    # The launched run ingests the week and its baskets.
    request = second.run_requests[0]
    result = run_weekly(defs, instance, [request.partition_key])
    assert result.success
    assert TRANSACTIONS.store(storage).count() > 0 and BASKETS.store(storage).count() > 0

    # Two new weeks in one tick: one run each; a re-delivered (replaced) file runs again.
    sandbox.write_weeks(landing, ["200609", "200610"])
    fourth = evaluate_sensor(defs, instance, storage, third.cursor)
    assert sorted(r.partition_key for r in fourth.run_requests) == ["200609", "200610"]
    sandbox.write_week(landing, "200607", compress=False)
    fifth = evaluate_sensor(defs, instance, storage, fourth.cursor)
    assert [r.partition_key for r in fifth.run_requests] == ["200607"]
    assert len({r.run_key for r in [*second.run_requests, *fourth.run_requests, *fifth.run_requests]}) == 4


@pytest.mark.slow
def test_range_backfill_rerun_leaves_row_counts_unchanged(storage, instance):
    defs = definitions(storage)
    weeks = shop_weeks("200607", 3)
    DunnhumbySandbox(seed=5, n_customers=60, n_products=150).write_weeks(storage.landing_path(LANDING_SOURCE), weeks)
    instance.add_dynamic_partitions(week_partitions.name, weeks)

    first = run_weekly(defs, instance, weeks)
    assert first.success
    # A single-run range: one run materialised every week of the range, and the profile check passed.
    materialised = {
        e.partition for e in first.get_asset_materialization_events() if e.asset_key.path == ["dunnhumby_transactions"]
    }
    assert materialised == set(weeks)
    checks = first.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    counts = (TRANSACTIONS.store(storage).count(), BASKETS.store(storage).count())

    assert run_weekly(defs, instance, weeks).success
    assert run_weekly(defs, instance, weeks[1:2]).success
    assert (TRANSACTIONS.store(storage).count(), BASKETS.store(storage).count()) == counts
    per_week = pc.value_counts(TRANSACTIONS.store(storage).read(columns=["SHOP_WEEK"])["SHOP_WEEK"]).to_pylist()
    assert sorted(v["values"] for v in per_week) == weeks


@pytest.mark.slow
def test_mangled_file_fails_the_run_with_its_reason_and_keeps_old_rows(storage, instance):
    defs = definitions(storage)
    landing = storage.landing_path(LANDING_SOURCE)
    sandbox = DunnhumbySandbox(seed=5, n_customers=60, n_products=150)
    sandbox.write_week(landing, "200607")
    instance.add_dynamic_partitions(week_partitions.name, ["200607"])
    assert run_weekly(defs, instance, ["200607"]).success
    before = TRANSACTIONS.store(storage).count()

    (landing / "transactions_200607.csv.gz").unlink()
    write_excel_mangled(sandbox, landing / "transactions_200607.csv", "200607")
    result = run_weekly(defs, instance, ["200607"])
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = str(failure.event_specific_data.error)
    assert "mangled_basket_ids" in message and "9.94E+14" in message
    assert TRANSACTIONS.store(storage).count() == before  # never merged, never dropped
    rejects = storage.quarantine(LANDING_SOURCE, "200607").store.read()
    assert [r.split(":")[0] for r in rejects["reason"].to_pylist()] == ["mangled_basket_ids"]


@pytest.mark.slow
def test_training_then_scoring_a_new_week_does_not_retrain(storage, instance):
    defs = definitions(storage)
    landing = storage.landing_path(LANDING_SOURCE)
    sandbox = DunnhumbySandbox(seed=5, n_customers=120, n_products=200)
    *history, new_week = shop_weeks("200607", 7)
    sandbox.write_weeks(landing, history)
    instance.add_dynamic_partitions(week_partitions.name, history)
    ingest = run_weekly(defs, instance, history)
    assert ingest.success
    # No model yet: the scoring step is skipped, not failed.
    assert not [
        e for e in ingest.get_asset_materialization_events() if e.asset_key.path == ["dunnhumby_next_basket_scores"]
    ]

    training = defs.resolve_job_def(TRAINING_JOB_NAME).execute_in_process(instance=instance)
    assert training.success
    version = storage.model_store(NEXT_BASKET_MODEL).latest()
    model_dir = storage.model_store(NEXT_BASKET_MODEL).path(version)
    model_files = {p.name: p.stat().st_mtime_ns for p in model_dir.iterdir()}
    report = json.loads((model_dir / "report.json").read_text())
    candidates = {"G-TopFreq", "P-TopFreq", "GP-TopFreq", "TIFU-KNN", "RepeatExplore-MLP"}
    assert set(report["selection"]["test"]) == candidates == set(report["selection"]["validation"])
    champion = report["selection"]["champion"]
    assert json.loads((model_dir / "champion.json").read_text())["kind"] == champion  # the served one
    model_meta = training.asset_materializations_for_node("dunnhumby_next_basket_model")[0].metadata
    assert model_meta["champion"].value == champion
    assert model_meta["preset"].value == "tiny" and "set in config" in model_meta["preset_reason"].value
    missions = training.asset_materializations_for_node("dunnhumby_shopping_missions")
    mission_meta = next(m for m in missions if m.asset_key.path == ["dunnhumby_basket_missions"]).metadata
    assert mission_meta["nmi_dominant_mission"].value > mission_meta["nmi_dominant_mission_random"].value

    sandbox.write_week(landing, new_week)
    sensor_result = evaluate_sensor(defs, instance, storage, None)
    assert new_week in [r.partition_key for r in sensor_result.run_requests]
    scoring = run_weekly(defs, instance, [new_week])
    assert scoring.success
    keys = {e.asset_key.path[-1] for e in scoring.get_asset_materialization_events()}
    assert keys == {
        "dunnhumby_transactions", "dunnhumby_baskets", "dunnhumby_next_basket_scores", "dunnhumby_week_missions"
    }  # fmt: skip
    # The new week got missions from the published LDA, without a refit (same version, same mission ids).
    week_missions = WEEK_MISSIONS.store(storage).read()
    assert set(week_missions["SHOP_WEEK"].to_pylist()) == {new_week}
    assert set(week_missions["MODEL_VERSION"].to_pylist()) == {storage.model_store(MISSION_MODEL).latest()}
    assert max(week_missions["MISSION"].to_pylist()) < mission_meta["k"].value
    assert storage.model_store(NEXT_BASKET_MODEL).latest() == version
    assert {p.name: p.stat().st_mtime_ns for p in model_dir.iterdir()} == model_files
    scores = NEXT_BASKET_SCORES.store(storage).read()
    assert set(scores["SHOP_WEEK"].to_pylist()) == {new_week}
    assert set(scores["MODEL_VERSION"].to_pylist()) == {version}
    shoppers = BASKETS.store(storage).read()
    shoppers = shoppers.filter(pc.and_(pc.equal(shoppers["SHOP_WEEK"], new_week), pc.invert(shoppers["IS_ANONYMOUS"])))
    assert set(scores["CUST_CODE"].to_pylist()) == set(shoppers["CUST_CODE"].to_pylist())
    assert max(scores["RANK"].to_pylist()) == TINY_MODELS.top_k

    # Weeks ingested before the first model: a range run of the scores asset is the backfill.
    backfill = dg.materialize(
        [*dunnhumby_defs.assets],
        selection=["dunnhumby_next_basket_scores"],
        instance=instance,
        resources={"storage": storage, "dunnhumby_models": TINY_MODELS},
        tags={"dagster/asset_partition_range_start": history[0], "dagster/asset_partition_range_end": history[-1]},
    )
    assert backfill.success
    scored_weeks = set(NEXT_BASKET_SCORES.store(storage).read()["SHOP_WEEK"].to_pylist())
    assert scored_weeks == {*history, new_week}


@pytest.mark.slow
@pytest.mark.real_data
def test_real_weeks_range_backfill_and_real_mangled_file(shared_data, storage, instance):
    defs = definitions(storage)
    landing = storage.landing_path(LANDING_SOURCE)
    weeks = ["200609", "200610", "200611"]
    for week in weeks:
        shutil.copy(shared_data / "dunnhumby" / f"transactions_{week}.csv.gz", landing)
    instance.add_dynamic_partitions(week_partitions.name, weeks)
    first = run_weekly(defs, instance, weeks)
    assert first.success
    # The real weeks fit the declared value domains, ranges and calendar: the profile check passes.
    assert [c.passed for c in first.get_asset_check_evaluations()] == [True]
    count = TRANSACTIONS.store(storage).count()
    assert count > 70_000
    assert run_weekly(defs, instance, weeks).success
    assert TRANSACTIONS.store(storage).count() == count

    shutil.copy(
        shared_data / "dunnhumby" / "variant_seed_column_names_excel_mangled_200607.csv",
        landing / "transactions_200607.csv",
    )
    instance.add_dynamic_partitions(week_partitions.name, ["200607"])
    result = run_weekly(defs, instance, ["200607"])
    assert not result.success
    assert TRANSACTIONS.store(storage).count() == count


def test_profile_table_has_one_row_per_week(tmp_path):
    sandbox = DunnhumbySandbox(seed=5, n_customers=40, n_products=100)
    lines = pl.from_arrow(parse_week_file(sandbox.write_week(tmp_path, "200607")).table)
    profiles = profile_weeks(lines, ["200607"])
    table = profiles_markdown(profiles).splitlines()
    assert table[0] == "| week | rows | baskets | customers | anonymous | quantity | spend | problems |"
    assert table[1] == "|---" * 8 + "|"
    assert table[2].startswith(f"| 200607 | {lines.height} | ") and table[2].endswith(" | none |")
    assert not empty_or_broken(profiles)
