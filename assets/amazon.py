"""Amazon Reviews 2023: landing files -> Delta tables -> DeepCart-style datasets -> recommenders, compared.

    <landing>/amazon/<Category>.jsonl[.gz]        --amazon_landing_sensor-->  amazon_reviews[category]
    <landing>/amazon/meta_<Category>.jsonl[.gz]   --amazon_landing_sensor-->  amazon_items[category]
    amazon_reviews + amazon_items   --build spec (run config)-->  amazon_dataset[tag]
    amazon_dataset[tag]  -->  amazon_model_{random,popular,item_knn,ease,autoencoder}[tag]  -->  amazon_model_comparison[tag]

Ingestion streams a file chunk by chunk into one Delta commit that replaces the category's rows, so memory does
not grow with the file (the Electronics reviews are 22 GB) and re-ingesting a file gives the same rows, never
doubled; bad lines go to the quarantine with their line number and reason. See docs/amazon.md.
"""

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from models.amazon_dataset_builder import BuildSpec, build_dataset
from models.amazon_recommenders import (
    EASERecommender,
    ItemKNNRecommender,
    MostPopularRecommender,
    RandomRecommender,
    Recommender,
    Split,
    temporal_leave_last_out,
)
from foundation.charts import bar_chart_png, markdown_image
from foundation.ranking_metrics import evaluate
from foundation.automation import derived_table, follow_updates, retrain
from foundation.progress import Progress, keras_progress
from foundation.resources import StorageResource
from foundation.storage.delta_tables import DeltaStore, Window, WriteResult
from foundation.storage.quarantine import Quarantine, TooManyRejects
from scrapers.amazon_jsonl import CHUNK_BYTES, ITEM_SCHEMA, REVIEW_SCHEMA, read_chunks

LANDING_SOURCE = "amazon"  # files land in storage.landing_path("amazon")
# `Electronics.jsonl`, `meta_Electronics.jsonl.gz`: the names the 2023 release uses. Anything else (a `.tmp`
# being copied, a README) is ignored, so copy to a temporary name and rename when done.
LANDING_FILE = re.compile(r"^(?P<meta>meta_)?(?P<category>[A-Za-z0-9][A-Za-z0-9_\-]*)\.jsonl(?:\.gz)?$")
MAX_REJECT_SHARE = 0.05
# The Delta writer buffers a Parquet file until it reaches this size: with the chunk size, it bounds peak memory.
TARGET_FILE_BYTES = 32 << 20

category_partitions = dg.DynamicPartitionsDefinition(name="amazon_category")
dataset_partitions = dg.DynamicPartitionsDefinition(name="amazon_dataset_tag")


def reviews_store(storage: StorageResource) -> DeltaStore:
    return storage.delta("amazon_reviews", REVIEW_SCHEMA, ["category"])


def items_store(storage: StorageResource) -> DeltaStore:
    return storage.delta("amazon_items", ITEM_SCHEMA, ["category"])


# -- ingestion -------------------------------------------------------------------------------


def landing_file(storage: StorageResource, kind: str, category: str) -> Path:
    """The landed file for a category: `<Category>.jsonl[.gz]` (reviews) or `meta_<Category>.jsonl[.gz]` (items)."""
    folder = storage.landing_path(LANDING_SOURCE)
    stem = category if kind == "reviews" else f"meta_{category}"
    found = [p for p in (folder / f"{stem}.jsonl", folder / f"{stem}.jsonl.gz") if p.is_file()]
    if not found:
        raise FileNotFoundError(f"no {stem}.jsonl or {stem}.jsonl.gz in {folder}")
    return max(found, key=lambda p: p.stat().st_mtime_ns)  # both present: the newer one


def ingest_file(
    store: DeltaStore,
    quarantine: Quarantine,
    path: Path,
    kind: str,
    category: str,
    chunk_bytes: int = CHUNK_BYTES,
    log: Any = None,
) -> tuple[WriteResult, dict[str, Any]]:
    """Stream `path` into `store`, replacing the category's rows in one commit; rejects go to `quarantine`.

    Too many rejects fail the stream before the commit, so a broken file never replaces good rows.
    """
    path = Path(path)
    stats: dict[str, Any] = {"lines": 0, "blank_lines": 0, "bytes": 0, "rating_counts": Counter()}
    started = time.perf_counter()
    progress = Progress(log, f"{path.name} lines", every_seconds=15.0)

    def batches() -> Iterator[pa.RecordBatch]:
        for chunk in read_chunks(path, kind, category, chunk_bytes):
            progress.advance(chunk.lines)
            stats["lines"] += chunk.lines
            stats["blank_lines"] += chunk.blank_lines
            stats["bytes"] += chunk.bytes_read
            for reject in chunk.rejects:
                quarantine.reject(reject.raw, reject.reason, f"{path.name}:{reject.line}")
            if stats["lines"] >= 100_000:  # fail early on a file that is broken, not merely dirty
                check_share()
            if kind == "reviews":
                for entry in pc.value_counts(chunk.table["rating"]).to_pylist():
                    stats["rating_counts"][entry["values"]] += entry["counts"]
            yield from chunk.table.to_batches()
        check_share()

    stopped: list[TooManyRejects] = []

    def check_share() -> None:
        try:
            quarantine.check_share(stats["lines"], MAX_REJECT_SHARE)
        except TooManyRejects as error:
            stopped.append(error)  # raising inside the stream aborts the write; re-raised below, unwrapped
            raise

    window = Window.of("category", category)
    try:
        result = store.overwrite_stream(batches(), window, target_file_size=TARGET_FILE_BYTES)
    except Exception:
        if stopped:
            raise stopped[0] from None
        raise
    progress.done()
    stats["seconds"] = time.perf_counter() - started
    return result, stats


def _ingest_metadata(path: Path, stats: dict[str, Any], quarantine_meta: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "source_file": dg.MetadataValue.path(str(path)),
        "source_lines": stats["lines"],
        "blank_lines": stats["blank_lines"],
        "source_mb": round(stats["bytes"] / 1e6, 2),
        "mb_per_second": round(stats["bytes"] / 1e6 / max(stats["seconds"], 1e-9), 1),
    }
    if stats["rating_counts"]:
        rows = "\n".join(f"| {k:g} | {v:,} |" for k, v in sorted(stats["rating_counts"].items()))
        meta["rating_distribution"] = dg.MetadataValue.md(f"| rating | reviews |\n|---|---|\n{rows}")
    return meta | quarantine_meta


def _ingest_partitions(context: dg.AssetExecutionContext, storage: StorageResource, kind: str) -> dg.MaterializeResult:
    store = reviews_store(storage) if kind == "reviews" else items_store(storage)
    table_name = "amazon_reviews" if kind == "reviews" else "amazon_items"
    metadata: dict[str, Any] = {}
    # One category per run from the sensor; a range backfill (single run) walks its categories in turn.
    for category in context.partition_keys:
        path = landing_file(storage, kind, category)
        context.log.info(f"ingesting {path} into {table_name}[{category}]")
        quarantine = storage.quarantine(table_name, category)
        result, stats = ingest_file(store, quarantine, path, kind, category, log=context.log)
        metadata = result.metadata() | _ingest_metadata(path, stats, quarantine.commit(context.run_id))
        context.log.info(
            f"{table_name}[{category}]: {result.rows_written:,} rows, {quarantine.count} quarantined "
            f"{quarantine.reasons()}, {metadata['mb_per_second']} MB/s"
        )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    partitions_def=category_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="amazon",
    kinds={"delta"},
    description="Amazon Reviews 2023 reviews of one category (`<Category>.jsonl[.gz]`), streamed into Delta.",
)
def amazon_reviews(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    return _ingest_partitions(context, storage, "reviews")


@dg.asset(
    partitions_def=category_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="amazon",
    kinds={"delta"},
    description="Amazon Reviews 2023 item metadata of one category (`meta_<Category>.jsonl[.gz]`).",
)
def amazon_items(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    return _ingest_partitions(context, storage, "items")


@dg.asset_check(asset=amazon_reviews, blocking=True, partitions_def=category_partitions)
def amazon_reviews_are_usable(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    """Every stored review has a user, an item, a 1-5 rating and a time (scanned batch by batch: bounded memory)."""
    store = reviews_store(storage)
    rows = nulls = out_of_range = 0
    if store.exists():
        dataset = store.dataset(Window.of("category", context.partition_key))
        for batch in dataset.to_batches(columns=["user_id", "parent_asin", "rating", "timestamp"]):
            rows += batch.num_rows
            nulls += sum(column.null_count for column in batch.columns)
            rating = batch.column("rating")
            out_of_range += pc.sum(pc.or_(pc.less(rating, 1), pc.greater(rating, 5))).as_py() or 0
    return dg.AssetCheckResult(
        passed=rows > 0 and nulls == 0 and out_of_range == 0,
        metadata={"rows": rows, "null_keys": nulls, "ratings_out_of_range": out_of_range},
    )


@dg.asset_check(asset=amazon_items, blocking=True, partitions_def=category_partitions)
def amazon_items_unique_parent_asin(
    context: dg.AssetCheckExecutionContext, storage: StorageResource
) -> dg.AssetCheckResult:
    """One metadata row per parent_asin, else joins with reviews would multiply ratings."""
    table = items_store(storage).read(Window.of("category", context.partition_key), columns=["parent_asin"])
    repeated = table.num_rows - len(pc.unique(table["parent_asin"]))
    return dg.AssetCheckResult(
        passed=bool(table.num_rows) and repeated == 0,
        metadata={"rows": table.num_rows, "repeated_parent_asin": repeated},
    )


amazon_ingest_job = dg.define_asset_job(
    "amazon_ingest_job",
    selection=dg.AssetSelection.assets(amazon_reviews, amazon_items),
    partitions_def=category_partitions,
    description="Ingest one category's landed Amazon files; the landing sensor launches it once per new file.",
)


def landed_files(folder: Path) -> list[tuple[Path, str, str]]:
    """(path, kind, category) of every file in `folder` named like an Amazon Reviews 2023 file."""
    found = []
    for path in sorted(folder.iterdir()):
        match = LANDING_FILE.match(path.name)
        if match and path.is_file():
            found.append((path, "items" if match["meta"] else "reviews", match["category"]))
    return found


@dg.sensor(
    name="amazon_landing_sensor",
    job=amazon_ingest_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One run of amazon_ingest_job per new or changed file in the Amazon landing folder.",
)
def amazon_landing_sensor(context: dg.SensorEvaluationContext, storage: StorageResource) -> dg.SensorResult:
    # The cursor maps file name -> "mtime_ns:size" of the version already launched, so a file is ingested
    # once, again only when it is replaced, and never twice across daemon restarts.
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    known = set(context.instance.get_dynamic_partitions(category_partitions.name))
    new_categories: list[str] = []
    runs = []
    for path, kind, category in landed_files(storage.landing_path(LANDING_SOURCE)):
        stat = path.stat()
        version = f"{stat.st_mtime_ns}:{stat.st_size}"
        if seen.get(path.name) == version:
            continue
        seen[path.name] = version
        if category not in known and category not in new_categories:
            new_categories.append(category)
        asset = amazon_reviews if kind == "reviews" else amazon_items
        runs.append(
            dg.RunRequest(
                run_key=f"{path.name}:{version}",
                partition_key=category,
                asset_selection=[asset.key],
                tags={"amazon/landing_file": path.name},
            )
        )
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=[category_partitions.build_add_request(new_categories)] if new_categories else [],
        cursor=json.dumps(seen, sort_keys=True),
    )


# -- dataset builder (the original `build` step) -------------------------------------------

DATASET_RATINGS_SCHEMA = pa.schema(
    [
        ("tag", pa.string()),
        ("user_id", pa.string()),
        ("parent_asin", pa.string()),
        ("rating", pa.float32()),
        ("timestamp", pa.timestamp("ms", tz="UTC")),
    ]
)
DATASET_ITEMS_SCHEMA = pa.schema(
    [
        ("tag", pa.string()),
        ("parent_asin", pa.string()),
        ("title", pa.string()),
        ("main_category", pa.string()),
        ("store", pa.string()),
        ("average_rating", pa.float32()),
        ("rating_number", pa.int64()),
        ("price", pa.float64()),
    ]
)


def dataset_ratings_store(storage: StorageResource) -> DeltaStore:
    return storage.delta("amazon_dataset_ratings", DATASET_RATINGS_SCHEMA, ["tag"])


def dataset_items_store(storage: StorageResource) -> DeltaStore:
    return storage.delta("amazon_dataset_items", DATASET_ITEMS_SCHEMA, ["tag"])


class AmazonDatasetConfig(dg.Config):
    """The build spec of one dataset tag (same knobs as `storefront build`)."""

    category: str = "Sandbox_Electronics"
    min_interactions: int = 5
    min_ratings: int = 10
    sample_n: int = 0
    k_core: bool = False
    min_item_interactions: int = 1
    seed: int = 0


def build_for_tag(
    storage: StorageResource, tag: str, spec: BuildSpec, log: Any = None
) -> tuple[list[str], dict[str, Any]]:
    """Read the category, build, write both tables for `tag`; returns the report lines and asset metadata."""
    window = Window.of("category", spec.category)
    reviews = pl.from_arrow(
        reviews_store(storage).read(window, columns=["user_id", "parent_asin", "rating", "timestamp"])
    )
    items = pl.from_arrow(
        items_store(storage).read(
            window,
            columns=["parent_asin", "title", "main_category", "store", "average_rating", "rating_number", "price"],
        )
    )
    if reviews.height == 0:
        raise ValueError(f"amazon_reviews has no rows for category {spec.category!r}: ingest it first")
    with Progress(log, "reviews filtered into the dataset", reviews.height) as progress:
        result = build_dataset(reviews, items, spec)
        progress.advance(reviews.height)
    ratings_table = f"amazon_dataset_ratings[tag={tag}]"
    result.report.append(
        f"Writing {result.counts['ratings']:,} ratings by {result.counts['users']:,} users of "
        f"{result.counts['items']:,} items to {ratings_table} and amazon_dataset_items[tag={tag}]."
    )
    tagged = pl.lit(tag).alias("tag")
    ratings_result = dataset_ratings_store(storage).overwrite(
        result.ratings.with_columns(tagged).to_arrow(), Window.of("tag", tag)
    )
    items_result = dataset_items_store(storage).overwrite(
        result.items.select(DATASET_ITEMS_SCHEMA.names[1:]).with_columns(tagged).to_arrow(), Window.of("tag", tag)
    )
    folder = storage.model_path("amazon_dataset", tag)
    (folder / "spec.json").write_text(json.dumps(spec.as_dict(), indent=2))
    (folder / "report.txt").write_text("\n".join(result.report) + "\n")
    metadata = ratings_result.metadata() | {
        "report": dg.MetadataValue.md("\n".join(f"    {line}" for line in result.report)),
        "spec": dg.MetadataValue.json(spec.as_dict()),
        "items_table": dg.MetadataValue.path(items_result.uri),
        **{f"count_{k}": v for k, v in result.counts.items()},
        **progress.metadata(),
    }
    return result.report, metadata


@dg.asset(
    partitions_def=dataset_partitions,
    deps=[
        dg.AssetDep(amazon_reviews, partition_mapping=dg.AllPartitionMapping()),
        dg.AssetDep(amazon_items, partition_mapping=dg.AllPartitionMapping()),
    ],
    group_name="amazon",
    kinds={"delta", "polars"},
    description="A DeepCart-style dataset (filtered ratings + their items) per tag; `storefront build` runs it.",
    output_required=False,
    # Cheap: tags built before are rebuilt when a category is re-ingested; new tags need a spec (`storefront build`).
    automation_condition=follow_updates() & ~dg.AutomationCondition.missing(),
)
def amazon_dataset(
    context: dg.AssetExecutionContext, config: AmazonDatasetConfig, storage: StorageResource
) -> Iterator[dg.MaterializeResult]:
    spec = BuildSpec(**config.model_dump())
    if context.run.tags.get(AUTOMATION_TAG):
        # Automated runs carry no run config: rebuild the tag as it was specified, and only if its own category
        # was re-ingested since (the graph maps every category to every tag, so every tag is asked).
        saved = storage.model_path("amazon_dataset", context.partition_key) / "spec.json"
        spec = BuildSpec(**json.loads(saved.read_text()))
        if not category_updated_since_build(context.instance, spec.category, context.partition_key):
            context.log.info(f"category {spec.category} unchanged since tag {context.partition_key} was built; skipped")
            return
    report, metadata = build_for_tag(storage, context.partition_key, spec, context.log)
    for line in report:
        context.log.info(line)
    yield dg.MaterializeResult(metadata=metadata)


AUTOMATION_TAG = "dagster/from_automation_condition"  # set by Dagster on runs the automation sensor launches


def category_updated_since_build(instance: dg.DagsterInstance, category: str, tag: str) -> bool:
    """Whether amazon_reviews[category] or amazon_items[category] materialised after amazon_dataset[tag]."""

    def latest(key: str, partition: str) -> int:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(key), asset_partitions=[partition]), limit=1
        ).records
        return records[0].storage_id if records else -1

    return max(latest("amazon_reviews", category), latest("amazon_items", category)) > latest("amazon_dataset", tag)


@dg.asset_check(asset=amazon_dataset, blocking=True, partitions_def=dataset_partitions)
def amazon_dataset_thresholds_hold(
    context: dg.AssetCheckExecutionContext, storage: StorageResource
) -> dg.AssetCheckResult:
    """Enough users and items to evaluate on, one rating per (user, item), and with k-core the thresholds hold."""
    tag = context.partition_key
    ratings = pl.from_arrow(dataset_ratings_store(storage).read(Window.of("tag", tag)))
    spec = json.loads((storage.model_path("amazon_dataset", tag) / "spec.json").read_text())
    users = ratings.group_by("user_id").len()
    repeated = ratings.height - ratings.unique(["user_id", "parent_asin"]).height
    lightest = int(users["len"].min()) if users.height else 0
    k_core_ok = not spec["k_core"] or lightest >= spec["min_interactions"]
    return dg.AssetCheckResult(
        passed=users.height >= 2 and repeated == 0 and k_core_ok,
        metadata={"users": users.height, "repeated_pairs": repeated, "min_ratings_per_user": lightest},
    )


# -- recommenders, each evaluated on the same temporal leave-last-out split --------------------

MODEL_NAMES = ("random", "popular", "item_knn", "ease", "autoencoder")
REPORTED_METRICS = ("recall@10", "recall@50", "ndcg@10", "ndcg@50", "map@10", "hit_rate@10", "mrr", "coverage@10")


class AmazonModelSettings(dg.ConfigurableResource):
    """Hyper-parameters of the recommenders; tests use a tiny autoencoder, the demo and benchmarks the full one."""

    knn_neighbours: int = 100
    ease_l2: float = 200.0
    autoencoder_hidden: int = 200
    autoencoder_epochs: int = 30
    autoencoder_dropout: float = 0.5
    seed: int = 0

    def make(self, name: str, log: Any = None) -> Recommender:
        if name == "random":
            return RandomRecommender(self.seed)
        if name == "popular":
            return MostPopularRecommender()
        if name == "item_knn":
            return ItemKNNRecommender(self.knn_neighbours)
        if name == "ease":
            return EASERecommender(self.ease_l2)
        if name == "autoencoder":
            from models.amazon_autoencoder import AutoencoderConfig, AutoencoderRecommender

            config = AutoencoderConfig(
                hidden=self.autoencoder_hidden,
                epochs=self.autoencoder_epochs,
                dropout=self.autoencoder_dropout,
                seed=self.seed,
            )
            progress = keras_progress(log, "autoencoder", batch_size=config.batch_size)
            return AutoencoderRecommender(config, callbacks=[progress])
        raise ValueError(f"unknown model {name!r}; known: {MODEL_NAMES}")


def load_split(storage: StorageResource, tag: str) -> Split:
    ratings = pl.from_arrow(dataset_ratings_store(storage).read(Window.of("tag", tag)))
    if ratings.height == 0:
        raise ValueError(f"amazon_dataset_ratings has no rows for tag {tag!r}: build it first")
    return temporal_leave_last_out(ratings)


def train_and_evaluate(
    storage: StorageResource, settings: AmazonModelSettings, name: str, tag: str, log: Any = None
) -> dict[str, Any]:
    split = load_split(storage, tag)
    model = settings.make(name, log)
    interactions = int(split.train.matrix.nnz)
    started = time.perf_counter()
    with Progress(log, f"{name}: training interactions fitted", interactions) as fitting:
        model.fit(split.train)
        fitting.advance(interactions)
    fitted = time.perf_counter()
    with Progress(log, f"{name}: test users ranked over the full catalogue", len(split.test)) as ranking:
        metrics = evaluate(model, split.train.matrix, split.test)
        ranking.advance(len(split.test))
    report = {
        "model": name,
        "tag": tag,
        "metrics": metrics,
        "fit_seconds": fitted - started,
        "eval_seconds": time.perf_counter() - fitted,
        "users": int(split.train.matrix.shape[0]),
        "items": int(split.train.n_items),
        "train_interactions": int(split.train.matrix.nnz),
        "test_users": len(split.test),
    }
    folder = storage.model_path(f"amazon_{name}", tag)
    if hasattr(model, "save"):
        report["artifact"] = str(model.save(folder))
    (folder / "metrics.json").write_text(json.dumps(report, indent=2))
    return report


def _model_asset(name: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"amazon_model_{name}",
        partitions_def=dataset_partitions,
        deps=[amazon_dataset],
        group_name="amazon",
        kinds={"keras" if name == "autoencoder" else "numpy"},
        description=f"The {name} recommender fitted on the tag's training split and ranked over the full catalogue.",
        # Training is the expensive step: at most daily, and only for tags whose dataset was rebuilt since.
        automation_condition=retrain(MODELS_CRON),
    )
    def _asset(
        context: dg.AssetExecutionContext, storage: StorageResource, amazon_model_settings: AmazonModelSettings
    ) -> dg.MaterializeResult:
        report = train_and_evaluate(storage, amazon_model_settings, name, context.partition_key, context.log)
        metrics = {k: round(v, 4) for k, v in report["metrics"].items() if k in REPORTED_METRICS}
        return dg.MaterializeResult(
            metadata=metrics
            | {
                "fit_seconds": round(report["fit_seconds"], 2),
                "eval_seconds": round(report["eval_seconds"], 2),
                "test_users": report["test_users"],
                "catalogue_items": report["items"],
                "model_folder": dg.MetadataValue.path(str(storage.model_path(f"amazon_{name}", context.partition_key))),
            }
        )

    return _asset


MODELS_CRON = "0 2 * * *"  # daily, 02:00 UTC
model_assets = [_model_asset(name) for name in MODEL_NAMES]

MODEL_METRICS_SCHEMA = pa.schema(
    [("tag", pa.string()), ("model", pa.string())]
    + [(m, pa.float64()) for m in REPORTED_METRICS]
    + [("fit_seconds", pa.float64()), ("test_users", pa.int64()), ("items", pa.int64())]
)


def comparison_table(reports: list[dict[str, Any]]) -> str:
    """Markdown table, one row per model, best value of each metric in bold."""
    best = {m: max(r["metrics"][m] for r in reports) for m in REPORTED_METRICS}
    lines = [
        "| model | " + " | ".join(REPORTED_METRICS) + " | fit s |",
        "|---|" + "---:|" * (len(REPORTED_METRICS) + 1),
    ]
    for r in reports:
        cells = [
            f"**{r['metrics'][m]:.4f}**" if r["metrics"][m] == best[m] else f"{r['metrics'][m]:.4f}"
            for m in REPORTED_METRICS
        ]
        lines.append(f"| {r['model']} | " + " | ".join(cells) + f" | {r['fit_seconds']:.1f} |")
    return "\n".join(lines)


@dg.asset(
    partitions_def=dataset_partitions,
    deps=model_assets,
    group_name="amazon",
    kinds={"delta"},
    description="Every recommender of the tag side by side on the same split (markdown + Delta amazon_model_metrics).",
    automation_condition=derived_table(),  # cheap: follows the retrained models (in the same run at a cron tick)
)
def amazon_model_comparison(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    tag = context.partition_key
    reports = [
        json.loads((storage.model_path(f"amazon_{name}", tag) / "metrics.json").read_text()) for name in MODEL_NAMES
    ]
    table = comparison_table(reports)
    header = (
        f"Temporal leave-last-out on `{tag}`: {reports[0]['test_users']:,} test users, full ranking over "
        f"{reports[0]['items']:,} items, training items excluded.\n\n"
    )
    (storage.model_path("amazon_comparison", tag) / "comparison.md").write_text(header + table + "\n")
    rows = [
        {"tag": tag, "model": r["model"], **{m: r["metrics"][m] for m in REPORTED_METRICS}}
        | {"fit_seconds": r["fit_seconds"], "test_users": r["test_users"], "items": r["items"]}
        for r in reports
    ]
    result = storage.delta("amazon_model_metrics", MODEL_METRICS_SCHEMA, ["tag"]).overwrite(
        pa.Table.from_pylist(rows, schema=MODEL_METRICS_SCHEMA), Window.of("tag", tag)
    )
    context.log.info("\n" + table)
    title = f"NDCG@10 on {tag}"
    chart = markdown_image(bar_chart_png({r["model"]: r["metrics"]["ndcg@10"] for r in reports}, title), title)
    return dg.MaterializeResult(
        metadata=result.metadata()
        | {"comparison": dg.MetadataValue.md(header + table), "ndcg_at_10_chart": dg.MetadataValue.md(chart)}
    )


@dg.asset_check(asset=amazon_model_comparison, partitions_def=dataset_partitions)
def amazon_models_beat_random(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    """Sanity: most-popular must beat random on NDCG@10, or the split or the metrics are broken."""
    table = storage.delta("amazon_model_metrics", MODEL_METRICS_SCHEMA, ["tag"]).read(
        Window.of("tag", context.partition_key)
    )
    ndcg = dict(zip(table["model"].to_pylist(), table["ndcg@10"].to_pylist(), strict=True))
    return dg.AssetCheckResult(passed=ndcg.get("popular", 0) > ndcg.get("random", 0), metadata={"ndcg@10": ndcg})


amazon_models_job = dg.define_asset_job(
    "amazon_models_job",
    selection=dg.AssetSelection.assets(amazon_dataset, *model_assets, amazon_model_comparison),
    partitions_def=dataset_partitions,
    description="Build a dataset tag and train and compare every recommender on it.",
)


defs = dg.Definitions(
    assets=[amazon_reviews, amazon_items, amazon_dataset, *model_assets, amazon_model_comparison],
    asset_checks=[
        amazon_reviews_are_usable,
        amazon_items_unique_parent_asin,
        amazon_dataset_thresholds_hold,
        amazon_models_beat_random,
    ],
    jobs=[amazon_ingest_job, amazon_models_job],
    sensors=[amazon_landing_sensor],
    resources={"amazon_model_settings": AmazonModelSettings()},
)

DEMO_TAG = "sandbox"


def demo(ctx: Any) -> None:
    """Generate the sandbox category, ingest both files, build the `sandbox` tag, train and compare."""
    from pipelines.definitions import defs as location
    from sandbox.amazon import AmazonSandboxSpec, generate

    # DemoContext binds only the shared resources, but validates every domain's assets: pass them all.
    resources = {**location.resources}
    spec = AmazonSandboxSpec()
    generate(ctx.storage.landing_path(LANDING_SOURCE), spec)
    ctx.instance.add_dynamic_partitions(category_partitions.name, [spec.category])
    ctx.instance.add_dynamic_partitions(dataset_partitions.name, [DEMO_TAG])
    ctx.materialize(["amazon_reviews", "amazon_items"], partitions=[spec.category], resources=resources)
    build = AmazonDatasetConfig(category=spec.category, min_interactions=3, min_ratings=5, k_core=True)
    ctx.materialize(
        "amazon_dataset",
        partitions=[DEMO_TAG],
        resources=resources,
        run_config={"ops": {"amazon_dataset": {"config": build.model_dump()}}},
    )
    models = [*(f"amazon_model_{name}" for name in MODEL_NAMES), "amazon_model_comparison"]
    ctx.materialize(models, partitions=[DEMO_TAG], resources=resources)
