"""dunnhumby "Let's get sort of real": weekly transaction files -> Delta -> shopping missions and next baskets.

    <landing>/dunnhumby/transactions_YYYYWW.csv[.gz]
        --dunnhumby_landing_sensor (adds the week to the `dunnhumby_shop_weeks` partitions)-->
    dunnhumby_weekly_job[week]:
        dunnhumby_transactions[week]  (+ check dunnhumby_transactions_profile)
        dunnhumby_baskets[week]
        dunnhumby_next_basket_scores[week]   (scores the week's customers with the EXISTING model)
    <landing>/dunnhumby/time.csv  -->  dunnhumby_shop_calendar
    dunnhumby_baskets also follows any new transactions week on its own (automation condition `derived_table`).
    training (automation `retrain(RETRAIN_CRON)`: Mondays, once new weeks arrived; or dunnhumby_training_job by hand):
        dunnhumby_customer_basket_sequences
        dunnhumby_basket_missions + dunnhumby_mission_profiles + dunnhumby_mission_top_products  (LDA)
        dunnhumby_next_basket_model  (Keras, reported next to the TopFreq baselines)

Every partitioned asset replaces exactly its weeks (`DeltaStore.overwrite` with a week window), so a sensor
run, a re-run or a range backfill (one run, `BackfillPolicy.single_run()`) never doubles or drops rows.
See docs/dunnhumby.md.
"""

import json
import os
import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from foundation.charts import bar_chart_png, markdown_image
from models.dunnhumby_baskets import (
    BASKETS_SCHEMA,
    SEQUENCES_SCHEMA,
    baskets_from_lines,
    customer_sequences,
    histories_by_customer,
)
from foundation.automation import derived_table, retrain
from foundation.progress import Progress, keras_progress
from foundation.resources import StorageResource
from foundation.storage.delta_tables import DeltaStore, Window
from foundation.storage.quarantine import TooManyRejects
from scrapers.dunnhumby_files import (
    CALENDAR_SCHEMA,
    TRANSACTIONS_SCHEMA,
    VALUE_DOMAINS,
    FileRejected,
    parse_week_file,
    read_calendar,
    shop_week_start,
    week_of,
)

# The names an operator (or an integration test) needs: see docs/dunnhumby.md.
LANDING_SOURCE = "dunnhumby"  # files land in storage.landing_path("dunnhumby")
SENSOR_NAME = "dunnhumby_landing_sensor"
WEEKLY_JOB_NAME = "dunnhumby_weekly_job"
TRAINING_JOB_NAME = "dunnhumby_training_job"
CALENDAR_FILE = "time.csv"
GROUP = "dunnhumby"

week_partitions = dg.DynamicPartitionsDefinition(name="dunnhumby_shop_weeks")
# Weekly retraining once new weeks arrived (files land over the weekend); see foundation/automation.py.
RETRAIN_CRON = "0 3 * * 1"
WEEK = "SHOP_WEEK"


class DunnhumbyModelsResource(dg.ConfigurableResource):
    """Model and ingestion settings (resource key `dunnhumby_models`); tests pass tiny values."""

    mission_k_grid: list[int] = [10, 15, 20, 25, 30]
    mission_max_iter: int = 20
    mission_learning_method: str = "online"  # chosen by benchmarks/bench_dunnhumby_lda.py (2x faster, lower perplexity)
    mission_fit_max_baskets: int = 20_000  # LDA is fitted on a sample; every basket is scored
    # "full" (the original sizes), "small" (demo), "tiny" (tests); "-repeat" adds the repeat-aware output
    next_basket_preset: str = "full"
    next_basket_epochs: int = 0  # 0 keeps the preset's
    top_k: int = 10
    max_reject_share: float = 0.05

    def next_basket_config(self) -> Any:
        from models.dunnhumby_next_basket import NextBasketConfig

        config = NextBasketConfig.preset(self.next_basket_preset)
        config = replace(config, top_k=self.top_k)
        return replace(config, epochs=self.next_basket_epochs) if self.next_basket_epochs else config


# -- tables --------------------------------------------------------------------------------------

MISSIONS_SCHEMA = pa.schema(
    [
        ("SHOP_WEEK", pa.string()),
        ("BASKET_ID", pa.int64()),
        ("CUST_CODE", pa.string()),
        ("MISSION", pa.int32()),
        ("MISSION_PROBABILITY", pa.float64()),
        ("MODEL_VERSION", pa.string()),
    ]
)
PROFILES_SCHEMA = pa.schema(
    [
        ("MISSION", pa.int32()),
        ("ATTRIBUTE", pa.string()),
        ("VALUE", pa.string()),
        ("BASKETS", pa.int64()),
        ("SHARE", pa.float64()),
        ("INDEX", pa.float64()),
        ("MODEL_VERSION", pa.string()),
    ]
)
TOP_PRODUCTS_SCHEMA = pa.schema(
    [
        ("MISSION", pa.int32()),
        ("RANK", pa.int32()),
        ("PROD_CODE", pa.string()),
        ("WEIGHT", pa.float64()),
        ("MODEL_VERSION", pa.string()),
    ]
)
SCORES_SCHEMA = pa.schema(
    [
        ("SHOP_WEEK", pa.string()),  # the week whose file triggered the scoring
        ("CUST_CODE", pa.string()),
        ("RANK", pa.int32()),
        ("PROD_CODE", pa.string()),
        ("SCORE", pa.float64()),
        ("MODEL_VERSION", pa.string()),
    ]
)


def transactions_store(storage: StorageResource) -> DeltaStore:
    return storage.delta("dunnhumby_transactions", TRANSACTIONS_SCHEMA, [WEEK])


def baskets_store(storage: StorageResource) -> DeltaStore:
    return storage.delta("dunnhumby_baskets", BASKETS_SCHEMA, [WEEK])


def scores_store(storage: StorageResource) -> DeltaStore:
    return storage.delta("dunnhumby_next_basket_scores", SCORES_SCHEMA, [WEEK])


def landed_file(landing: Path, week: str) -> Path | None:
    """The landed file of a week; if both .csv and .csv.gz are there, the newer one."""
    candidates = [
        p for p in (landing / f"transactions_{week}.csv.gz", landing / f"transactions_{week}.csv") if p.exists()
    ]
    return max(candidates, key=lambda p: p.stat().st_mtime_ns) if candidates else None


def _weeks(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[str]:
    return sorted(context.partition_keys)


# -- ingestion -------------------------------------------------------------------------------------


@dg.asset(
    group_name=GROUP,
    description="The shop-week calendar (`time.csv` in the landing folder).",
    kinds={"delta"},
)
def dunnhumby_shop_calendar(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    path = storage.landing_path(LANDING_SOURCE) / CALENDAR_FILE
    if not path.exists():
        raise dg.Failure(f"no calendar at {path}: drop the dataset's time.csv there")
    table = read_calendar(path)
    result = storage.delta("dunnhumby_shop_calendar", CALENDAR_SCHEMA).replace_all(table)
    return dg.MaterializeResult(metadata=result.metadata() | {"source_file": dg.MetadataValue.path(str(path))})


@dg.asset(
    group_name=GROUP,
    partitions_def=week_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Weekly transaction lines, explicit schema, both column variants; bad lines quarantined.",
    kinds={"delta"},
)
def dunnhumby_transactions(
    context: dg.AssetExecutionContext, storage: StorageResource, dunnhumby_models: DunnhumbyModelsResource
) -> dg.MaterializeResult:
    landing = storage.landing_path(LANDING_SOURCE)
    tables, per_week, rejected_files = [], {}, {}
    weeks = _weeks(context)
    progress = Progress(context.log, "transaction lines")
    for week in weeks:
        path = landed_file(landing, week)
        if path is None:
            raise dg.Failure(f"no landed file for shop week {week} in {landing} (transactions_{week}.csv[.gz])")
        quarantine = storage.quarantine(LANDING_SOURCE, week)
        try:
            parsed = parse_week_file(path, week)
        except FileRejected as error:
            # The whole file is unusable: record why, leave the week's previous rows untouched, fail below.
            quarantine.reject(path.name, str(error), location=str(path))
            quarantine.commit(context.run_id)
            rejected_files[week] = str(error)
            context.log.error(str(error))
            continue
        progress.advance(parsed.rows_read)
        for reject in parsed.rejects:
            quarantine.reject(reject.raw, reject.reason, reject.location)
        quarantine_meta = quarantine.commit(context.run_id)
        try:
            quarantine.check_share(parsed.rows_read, dunnhumby_models.max_reject_share)
        except TooManyRejects as error:
            rejected_files[week] = str(error)
            continue
        tables.append(parsed.table)
        anonymous = pc.sum(parsed.table["IS_ANONYMOUS"]).as_py() or 0
        per_week[week] = {
            "file": path.name,
            "variant": parsed.variant,
            "rows_read": parsed.rows_read,
            "rows_kept": parsed.table.num_rows,
            "quarantined": quarantine.count,
            "anonymous_share": round(anonymous / max(parsed.table.num_rows, 1), 4),
            "quarantine_reasons": quarantine.reasons(),
        }
        context.log.info(f"{path.name}: {per_week[week]}; quarantine {quarantine_meta['quarantine_table'].value}")

    progress.done()
    metadata: dict[str, Any] = {"weeks": dg.MetadataValue.json(per_week), **progress.metadata()}
    if tables:
        result = transactions_store(storage).overwrite(pa.concat_tables(tables), Window.of(WEEK, *per_week))
        metadata |= result.metadata()
        metadata["quarantined_rows"] = sum(w["quarantined"] for w in per_week.values())
        if len(per_week) == 1:
            metadata["anonymous_share"] = next(iter(per_week.values()))["anonymous_share"]
    if rejected_files:
        raise dg.Failure(
            description=f"rejected {len(rejected_files)} week file(s): " + "; ".join(rejected_files.values()),
            metadata={"rejected": dg.MetadataValue.json(rejected_files), **metadata},
        )
    return dg.MaterializeResult(metadata=metadata)


def profile_week(frame: pl.DataFrame, week: str) -> dict[str, Any]:
    """Row counts, missing shares, out-of-domain values and numeric ranges of one week."""
    start = shop_week_start(week)
    customer_columns = {"CUST_CODE", "CUST_PRICE_SENSITIVITY", "CUST_LIFESTAGE"}
    missing = {c: round(frame[c].null_count() / max(frame.height, 1), 4) for c in frame.columns}
    out_of_domain = {}
    for column, domain in VALUE_DOMAINS.items():
        values = frame[column].drop_nulls().unique().to_list()
        if unexpected := sorted(set(values) - domain):
            out_of_domain[column] = unexpected[:10]
    profile = {
        "week": week,
        "rows": frame.height,
        "baskets": frame["BASKET_ID"].n_unique(),
        "customers": frame["CUST_CODE"].drop_nulls().n_unique(),
        "anonymous_share": round(float(frame["IS_ANONYMOUS"].mean() or 0.0), 4),
        "missing_required": {c: s for c, s in missing.items() if s > 0 and c not in customer_columns},
        "missing_customer_fields": {c: missing[c] for c in sorted(customer_columns)},
        "out_of_domain": out_of_domain,
        "quantity_range": [frame["QUANTITY"].min(), frame["QUANTITY"].max()],
        "spend_range": [frame["SPEND"].min(), frame["SPEND"].max()],
        "hour_range": [frame["SHOP_HOUR"].min(), frame["SHOP_HOUR"].max()],
        "dates_outside_week": frame.filter(~pl.col("SHOP_DATE").is_between(start, start + timedelta(days=6))).height,
    }
    problems = []
    if not frame.height:
        problems.append("no rows")
    if profile["missing_required"]:
        problems.append(f"missing values in {sorted(profile['missing_required'])}")
    if out_of_domain:
        problems.append(f"values outside their domain: {out_of_domain}")
    if frame.height and (profile["quantity_range"][0] < 1 or profile["spend_range"][0] < 0):
        problems.append("non-positive quantity or negative spend")
    if profile["dates_outside_week"]:
        problems.append(f"{profile['dates_outside_week']} rows dated outside the shop week")
    if profile["anonymous_share"] > 0.5:
        problems.append(f"anonymous share {profile['anonymous_share']:.0%} > 50%")
    profile["problems"] = problems
    return profile


@dg.asset_check(asset=dunnhumby_transactions, partitions_def=week_partitions, blocking=True)
def dunnhumby_transactions_profile(
    context: dg.AssetCheckExecutionContext, storage: StorageResource
) -> dg.AssetCheckResult:
    """Per week: rows, baskets, missing shares, value domains, numeric ranges, dates inside the week."""
    weeks = _weeks(context)
    lines = pl.from_arrow(transactions_store(storage).read(Window.of(WEEK, *weeks)))
    profiles = [profile_week(lines.filter(pl.col(WEEK) == week), week) for week in weeks]
    empty_or_broken = any(not p["rows"] or p["missing_required"] for p in profiles)
    lines = ["| week | rows | baskets | customers | anonymous | quantity | spend | problems |", "|---" * 8 + "|"]
    for p in profiles:
        lines.append(
            f"| {p['week']} | {p['rows']} | {p['baskets']} | {p['customers']} | {p['anonymous_share']:.1%} "
            f"| {p['quantity_range']} | {p['spend_range']} | {'; '.join(p['problems']) or 'none'} |"
        )
    metadata: dict[str, Any] = {"profile": dg.MetadataValue.md("\n".join(lines))}
    metadata["details"] = dg.MetadataValue.json(profiles)
    if len(profiles) == 1:
        metadata |= {"rows": profiles[0]["rows"], "anonymous_share": profiles[0]["anonymous_share"]}
    return dg.AssetCheckResult(
        passed=not any(p["problems"] for p in profiles),
        severity=dg.AssetCheckSeverity.ERROR if empty_or_broken else dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )


@dg.asset(
    group_name=GROUP,
    partitions_def=week_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dunnhumby_transactions],
    description="One row per basket: its products, quantities, totals and basket attributes.",
    kinds={"delta"},
    automation_condition=derived_table(),  # cheap, per week; the weekly job already builds it with its week
)
def dunnhumby_baskets(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    window = Window.of(WEEK, *_weeks(context))
    baskets = baskets_from_lines(transactions_store(storage).read(window))
    result = baskets_store(storage).overwrite(baskets, window)
    anonymous = pc.sum(baskets["IS_ANONYMOUS"]).as_py() or 0
    return dg.MaterializeResult(
        metadata=result.metadata()
        | {
            "baskets": baskets.num_rows,
            "anonymous_baskets": anonymous,
            "mean_items": round(float(pc.mean(baskets["N_ITEMS"]).as_py() or 0.0), 2),
        }
    )


# -- training --------------------------------------------------------------------------------------


def _version(context: dg.AssetExecutionContext) -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{context.run_id[:8]}"


def _publish_latest(storage: StorageResource, model: str, version: str, report: dict[str, Any]) -> Path:
    """Point `models/<model>/latest.json` at a version (written then renamed: readers never see half)."""
    pointer = storage.local_path("models", model) / "latest.json"
    tmp = pointer.with_name(f".latest-{os.getpid()}.json")
    tmp.write_text(json.dumps({"version": version, **report}, indent=2, default=str))
    tmp.replace(pointer)
    return pointer


def latest_version(storage: StorageResource, model: str) -> str | None:
    pointer = storage.local_path("models", model) / "latest.json"
    return json.loads(pointer.read_text())["version"] if pointer.exists() else None


@dg.asset(
    group_name=GROUP,
    deps=[dunnhumby_baskets],
    description="Each known customer's baskets in time order (anonymous baskets belong to no one).",
    kinds={"delta"},
    automation_condition=retrain(RETRAIN_CRON),  # only the model reads it: rebuilt with it, not per new week
)
def dunnhumby_customer_basket_sequences(storage: StorageResource) -> dg.MaterializeResult:
    baskets = baskets_store(storage).read(
        columns=["SHOP_WEEK", "BASKET_ID", "CUST_CODE", "IS_ANONYMOUS", "SHOP_DATE", "SHOP_HOUR", "PRODUCTS"]
    )
    sequences = customer_sequences(baskets)
    result = storage.delta("dunnhumby_customer_basket_sequences", SEQUENCES_SCHEMA).replace_all(sequences)
    lengths = sequences["N_BASKETS"].to_numpy()
    return dg.MaterializeResult(
        metadata=result.metadata()
        | {
            "customers": sequences.num_rows,
            "median_baskets_per_customer": float(np.median(lengths)) if len(lengths) else 0.0,
            "customers_with_3_or_more_baskets": int((lengths >= 3).sum()),
        }
    )


MISSION_MODEL = "dunnhumby_missions"


@dg.multi_asset(
    group_name=GROUP,
    specs=[
        dg.AssetSpec(
            "dunnhumby_basket_missions",
            automation_condition=retrain(RETRAIN_CRON),  # LDA over every basket: weekly at most
            deps=[dunnhumby_baskets],
            description="Every basket's LDA shopping mission.",
            kinds={"delta"},
        ),
        dg.AssetSpec(
            "dunnhumby_mission_profiles",
            automation_condition=retrain(RETRAIN_CRON),  # LDA over every basket: weekly at most
            deps=[dunnhumby_baskets, dunnhumby_transactions],
            description="Mission index tables (100 = average).",
            kinds={"delta"},
        ),
        dg.AssetSpec(
            "dunnhumby_mission_top_products",
            automation_condition=retrain(RETRAIN_CRON),  # LDA over every basket: weekly at most
            deps=[dunnhumby_baskets],
            description="Top products per mission.",
            kinds={"delta"},
        ),
    ],
)
def dunnhumby_shopping_missions(
    context: dg.AssetExecutionContext, storage: StorageResource, dunnhumby_models: DunnhumbyModelsResource
) -> Iterator[dg.MaterializeResult]:
    """LDA with k chosen by held-out perplexity; agreement with the dataset's own labels next to random."""
    from models.dunnhumby_missions import agreement, fit_missions, mission_profiles

    baskets = pl.from_arrow(baskets_store(storage).read())
    if baskets.height == 0:
        raise dg.Failure("dunnhumby_baskets is empty: ingest some weeks first")
    fit_rows = random.Random(0).sample(
        range(baskets.height), min(baskets.height, dunnhumby_models.mission_fit_max_baskets)
    )
    fit = baskets[sorted(fit_rows)]
    model = fit_missions(
        fit["PRODUCTS"].to_list(),
        fit["QUANTITIES"].to_list(),
        k_grid=dunnhumby_models.mission_k_grid,
        max_iter=dunnhumby_models.mission_max_iter,
        learning_method=dunnhumby_models.mission_learning_method,
    )
    version = _version(context)
    model.save(storage.model_path(MISSION_MODEL, version))  # the vectoriser travels with the LDA

    missions, probability = model.assign(baskets["PRODUCTS"].to_list(), baskets["QUANTITIES"].to_list())
    scored = baskets.with_columns(
        pl.Series("MISSION", missions, pl.Int32), pl.Series("MISSION_PROBABILITY", probability)
    )
    labelled = {}
    for label in ("BASKET_DOMINANT_MISSION", "BASKET_TYPE"):
        known = scored.filter(pl.col(label) != "XX")
        labelled[label] = agreement(known["MISSION"].to_numpy(), known[label].to_list())
    table = scored.select(
        "SHOP_WEEK", "BASKET_ID", "CUST_CODE", "MISSION", "MISSION_PROBABILITY", pl.lit(version).alias("MODEL_VERSION")
    )
    write = storage.delta("dunnhumby_basket_missions", MISSIONS_SCHEMA, [WEEK]).replace_all(table.to_arrow())
    report = {
        "k": model.k,
        "perplexity_by_k": model.perplexity_by_k,
        "nmi": labelled,
        "baskets_fitted": fit.height,
        "baskets_scored": scored.height,
    }
    _publish_latest(storage, MISSION_MODEL, version, report)
    chart = bar_chart_png({f"k={k}": v for k, v in model.perplexity_by_k.items()}, "held-out perplexity by k")
    nmi = labelled["BASKET_DOMINANT_MISSION"]
    yield dg.MaterializeResult(
        asset_key="dunnhumby_basket_missions",
        metadata=write.metadata()
        | {
            "model_version": version,
            "k": model.k,
            "perplexity_by_k": dg.MetadataValue.json({str(k): round(v, 1) for k, v in model.perplexity_by_k.items()}),
            "nmi_dominant_mission": round(nmi["nmi"], 4),
            "nmi_dominant_mission_random": round(nmi["random_nmi"], 4),
            "nmi_basket_type": round(labelled["BASKET_TYPE"]["nmi"], 4),
            "nmi_basket_type_random": round(labelled["BASKET_TYPE"]["random_nmi"], 4),
            "perplexity_plot": dg.MetadataValue.md(markdown_image(chart, "perplexity by k")),
            "fit_seconds": round(model.fit_seconds, 2),
        },
    )

    lines = pl.from_arrow(
        transactions_store(storage).read(columns=["BASKET_ID", "SHOP_WEEK", "PROD_CODE_40", "QUANTITY"])
    )
    lines = lines.join(scored.select("SHOP_WEEK", "BASKET_ID", "MISSION"), on=["SHOP_WEEK", "BASKET_ID"])
    profiles = mission_profiles(scored, lines).with_columns(pl.lit(version).alias("MODEL_VERSION"))
    write = storage.delta("dunnhumby_mission_profiles", PROFILES_SCHEMA).replace_all(profiles.to_arrow())
    dominant = profiles.filter(pl.col("ATTRIBUTE") == "BASKET_DOMINANT_MISSION").pivot(
        "VALUE", index="MISSION", values="INDEX"
    )
    yield dg.MaterializeResult(
        asset_key="dunnhumby_mission_profiles",
        metadata=write.metadata()
        | {
            "index_by_dominant_mission": dg.MetadataValue.md(_markdown(dominant.sort("MISSION"))),
            "model_version": version,
        },
    )

    top = model.top_products(10).with_columns(pl.lit(version).alias("MODEL_VERSION"))
    write = storage.delta("dunnhumby_mission_top_products", TOP_PRODUCTS_SCHEMA).replace_all(top.to_arrow())
    yield dg.MaterializeResult(
        asset_key="dunnhumby_mission_top_products", metadata=write.metadata() | {"model_version": version}
    )


def _markdown(frame: pl.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|---" * len(frame.columns) + "|"
    rows = [
        "| " + " | ".join(f"{v:.0f}" if isinstance(v, float) else str(v) for v in row) + " |" for row in frame.rows()
    ]
    return "\n".join([header, rule, *rows])


NEXT_BASKET_MODEL = "dunnhumby_next_basket"


@dg.asset(
    group_name=GROUP,
    deps=[dunnhumby_customer_basket_sequences],
    description="Embedding + BiLSTM + attention next-basket model, next to G/P/GP-TopFreq on the same split.",
    kinds={"keras"},
    automation_condition=retrain(RETRAIN_CRON),  # expensive Keras training: weekly at most, only after new weeks
)
def dunnhumby_next_basket_model(
    context: dg.AssetExecutionContext, storage: StorageResource, dunnhumby_models: DunnhumbyModelsResource
) -> dg.MaterializeResult:
    from models.dunnhumby_next_basket import NextBasketModel, evaluate, results_table, temporal_split

    config = dunnhumby_models.next_basket_config()
    sequences = storage.delta("dunnhumby_customer_basket_sequences", SEQUENCES_SCHEMA).read(
        columns=["CUST_CODE", "BASKETS"]
    )
    split = temporal_split(
        dict(zip(sequences["CUST_CODE"].to_pylist(), sequences["BASKETS"].to_pylist(), strict=True)), config.min_baskets
    )
    if not split.customers:
        raise dg.Failure(f"no customer has {config.min_baskets} baskets yet: ingest more weeks first")
    model = NextBasketModel.train(
        split.histories, config, callbacks=[keras_progress(context.log, "next-basket model", config.batch_size)]
    )
    results = evaluate(split, config.top_k, model)
    version = _version(context)
    folder = storage.model_path(NEXT_BASKET_MODEL, version)
    model.save(folder)
    report = {"config": config.__dict__, "test_customers": len(split.customers), "results": results}
    (folder / "report.json").write_text(json.dumps(report, indent=2))
    _publish_latest(storage, NEXT_BASKET_MODEL, version, {"path": str(folder), "results": results})

    k = config.top_k
    names = list(results)
    chart = bar_chart_png({n: results[n][f"all/recall@{k}"] for n in names}, f"Recall@{k}, full catalogue")
    model_metrics = results[model.name]
    best_baseline = max((n for n in names if n != model.name), key=lambda n: results[n][f"all/ndcg@{k}"])
    return dg.MaterializeResult(
        metadata={
            "model_version": version,
            "model_path": dg.MetadataValue.path(str(folder)),
            "test_customers": len(split.customers),
            "catalogue_size": len(model.dictionary),
            "epochs": config.epochs,
            "final_loss": round(model.history["loss"][-1], 5),
            f"recall@{k}": round(model_metrics[f"all/recall@{k}"], 4),
            f"ndcg@{k}": round(model_metrics[f"all/ndcg@{k}"], 4),
            f"phr@{k}": round(model_metrics[f"all/phr@{k}"], 4),
            "best_baseline": best_baseline,
            f"best_baseline_ndcg@{k}": round(results[best_baseline][f"all/ndcg@{k}"], 4),
            "results": dg.MetadataValue.md(results_table(results, k)),
            "recall_plot": dg.MetadataValue.md(markdown_image(chart, "recall by method")),
        }
    )


# -- scoring new weeks -------------------------------------------------------------------------------


@dg.asset(
    group_name=GROUP,
    partitions_def=week_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dunnhumby_baskets, dunnhumby_next_basket_model],
    output_required=False,
    description="Top-k next-basket predictions for the customers of a new week, from the existing model.",
    kinds={"delta"},
)
def dunnhumby_next_basket_scores(
    context: dg.AssetExecutionContext, storage: StorageResource, dunnhumby_models: DunnhumbyModelsResource
) -> Iterator[dg.MaterializeResult]:
    """Never trains: loads the published model; without one the step is skipped (train with the training job)."""
    version = latest_version(storage, NEXT_BASKET_MODEL)
    if version is None:
        context.log.warning(f"no trained {NEXT_BASKET_MODEL} model yet; run {TRAINING_JOB_NAME} first; nothing scored")
        return
    from models.dunnhumby_next_basket import NextBasketModel

    model = NextBasketModel.load(storage.model_path(NEXT_BASKET_MODEL, version))
    weeks = _weeks(context)
    dataset = baskets_store(storage).dataset()
    columns = ["SHOP_WEEK", "BASKET_ID", "CUST_CODE", "IS_ANONYMOUS", "SHOP_DATE", "SHOP_HOUR", "PRODUCTS"]
    frames = []
    for week in weeks:
        shoppers = dataset.to_table(
            columns=["CUST_CODE"], filter=(pads.field(WEEK) == week) & ~pads.field("IS_ANONYMOUS")
        )
        customers = pc.unique(shoppers["CUST_CODE"])
        # Each customer's history as it stood at the end of this week.
        history_rows = dataset.to_table(
            columns=columns, filter=(pads.field(WEEK) <= week) & pads.field("CUST_CODE").isin(customers.to_pylist())
        )
        histories = histories_by_customer(history_rows)
        names = sorted(histories)
        recommendations = model.recommend([histories[c] for c in names], dunnhumby_models.top_k) if names else []
        frames.append(
            pl.DataFrame(
                [
                    {"SHOP_WEEK": week, "CUST_CODE": c, "RANK": r, "PROD_CODE": p, "SCORE": s, "MODEL_VERSION": version}
                    for c, recs in zip(names, recommendations, strict=True)
                    for r, (p, s) in enumerate(recs, start=1)
                ],
                schema={
                    "SHOP_WEEK": pl.Utf8,
                    "CUST_CODE": pl.Utf8,
                    "RANK": pl.Int32,
                    "PROD_CODE": pl.Utf8,
                    "SCORE": pl.Float64,
                    "MODEL_VERSION": pl.Utf8,
                },
            )
        )
    scores = pl.concat(frames)
    result = scores_store(storage).overwrite(scores.to_arrow(), Window.of(WEEK, *weeks))
    yield dg.MaterializeResult(
        metadata=result.metadata()
        | {
            "model_version": version,
            "customers_scored": scores["CUST_CODE"].n_unique(),
            "top_k": dunnhumby_models.top_k,
        }
    )


# -- jobs, sensor, schedule ---------------------------------------------------------------------------

weekly_job = dg.define_asset_job(
    WEEKLY_JOB_NAME,
    selection=dg.AssetSelection.assets(dunnhumby_transactions, dunnhumby_baskets, dunnhumby_next_basket_scores),
    partitions_def=week_partitions,
    description="Ingest one (or a range of) shop week(s) and score its customers with the existing model.",
)

training_job = dg.define_asset_job(
    TRAINING_JOB_NAME,
    selection=dg.AssetSelection.assets(
        dunnhumby_customer_basket_sequences, dunnhumby_shopping_missions, dunnhumby_next_basket_model
    ),
    description="Rebuild sequences, refit the shopping missions and retrain the next-basket model.",
)


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}-{stat.st_mtime_ns}"


@dg.sensor(
    name=SENSOR_NAME,
    job=weekly_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New or replaced transactions_YYYYWW.csv[.gz] in the landing folder -> one weekly run per week.",
)
def dunnhumby_landing_sensor(context: dg.SensorEvaluationContext, storage: StorageResource) -> dg.SensorResult:
    """The cursor maps each file name to the size and mtime it was launched for, so a file is run once,
    also across daemon restarts, and a replaced file (a corrected re-delivery) is run again."""
    landing = storage.landing_path(LANDING_SOURCE)
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    new_by_week: dict[str, Path] = {}
    for path in sorted(landing.iterdir()):
        week = week_of(path)
        if week is None or not path.is_file() or seen.get(path.name) == _fingerprint(path):
            continue
        new_by_week[week] = path
    if not new_by_week:
        return dg.SensorResult(skip_reason=f"no new week files in {landing}", cursor=context.cursor)
    known = set(context.instance.get_dynamic_partitions(week_partitions.name))
    runs = []
    for week, path in sorted(new_by_week.items()):
        fingerprint = _fingerprint(path)
        seen[path.name] = fingerprint
        runs.append(
            dg.RunRequest(
                partition_key=week,
                run_key=f"{path.name}:{fingerprint}",
                tags={"dunnhumby/source_file": path.name},
            )
        )
    new_weeks = sorted(set(new_by_week) - known)
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=[week_partitions.build_add_request(new_weeks)] if new_weeks else [],
        cursor=json.dumps(seen, sort_keys=True),
    )


weekly_retraining_schedule = dg.ScheduleDefinition(
    name="dunnhumby_weekly_retraining_schedule",
    job=training_job,
    cron_schedule="0 3 * * 1",  # Mondays 03:00, after the weekend's files
    default_status=dg.DefaultScheduleStatus.STOPPED,
    # Unconditional; the training assets' automation conditions already retrain weekly when new weeks arrived.
    description="Retrain every Monday even without new weeks (the automation conditions retrain only after new ones).",
)

defs = dg.Definitions(
    assets=[
        dunnhumby_shop_calendar,
        dunnhumby_transactions,
        dunnhumby_baskets,
        dunnhumby_customer_basket_sequences,
        dunnhumby_shopping_missions,
        dunnhumby_next_basket_model,
        dunnhumby_next_basket_scores,
    ],
    asset_checks=[dunnhumby_transactions_profile],
    jobs=[weekly_job, training_job],
    sensors=[dunnhumby_landing_sensor],
    schedules=[weekly_retraining_schedule],
    resources={"dunnhumby_models": DunnhumbyModelsResource()},
)


# -- demo ---------------------------------------------------------------------------------------------

DEMO_WEEKS = 10


def demo(ctx: Any) -> None:
    """Sandbox weeks land, are ingested as one range run, models train, then a new week lands and is scored."""
    from pipelines.definitions import defs as location
    from sandbox.dunnhumby import DunnhumbySandbox, write_calendar
    from scrapers.dunnhumby_files import shop_weeks

    # DemoContext validates every domain's assets, so it needs every domain's resources.
    resources = {
        **location.resources,
        "dunnhumby_models": DunnhumbyModelsResource(mission_k_grid=[4, 6, 8], next_basket_preset="small"),
    }
    landing = ctx.storage.landing_path(LANDING_SOURCE)
    sandbox = DunnhumbySandbox(seed=7, n_customers=400)
    *history, new_week = shop_weeks("200607", DEMO_WEEKS)
    write_calendar(landing)
    sandbox.write_weeks(landing, history)
    ctx.instance.add_dynamic_partitions(week_partitions.name, history)

    ctx.materialize(["dunnhumby_shop_calendar"], resources=resources)
    ingest = ["dunnhumby_transactions", "dunnhumby_baskets", "dunnhumby_next_basket_scores"]
    ctx.materialize(ingest, partition_range=(history[0], history[-1]), resources=resources)
    training = [
        "dunnhumby_customer_basket_sequences",
        "dunnhumby_basket_missions",
        "dunnhumby_mission_profiles",
        "dunnhumby_mission_top_products",
        "dunnhumby_next_basket_model",
    ]
    ctx.materialize(training, resources=resources)
    # A new week lands: ingest it and score its customers with the model just trained (no retraining).
    sandbox.write_week(landing, new_week)
    ctx.instance.add_dynamic_partitions(week_partitions.name, [new_week])
    ctx.materialize(ingest, partitions=[new_week], resources=resources)
