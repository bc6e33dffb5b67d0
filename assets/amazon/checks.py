"""Amazon asset checks: usable reviews, unique items, dataset thresholds (blocking), the champion against the
strongest baseline."""

import json
from collections.abc import Sequence

import dagster as dg
import polars as pl
import pyarrow.compute as pc

from assets.amazon.dataset import amazon_dataset, saved_spec
from assets.amazon.ingestion import amazon_items, amazon_reviews
from assets.amazon.partitions import category_partitions, dataset_partitions
from assets.amazon.tables import DATASET_RATINGS, ITEMS, REVIEWS
from assets.amazon.training import CHAMPION_FILE, amazon_model_comparison
from foundation.model_checks import champion_check_result
from foundation.model_store import ModelNotFound
from foundation.resources import StorageResource
from foundation.storage.delta_tables import DeltaStore, Window


def review_problems(store: DeltaStore, categories: Sequence[str]) -> dict[str, int]:
    """Rows, null keys and ratings that are not a finite 1-5 number in `categories` (scanned batch by batch:
    bounded memory)."""
    rows = nulls = out_of_range = 0
    if store.exists():
        dataset = store.dataset(Window.of("category", *categories))
        for batch in dataset.to_batches(columns=["user_id", "parent_asin", "rating", "timestamp"]):
            rows += batch.num_rows
            nulls += sum(column.null_count for column in batch.columns)
            rating = batch.column("rating")
            # "not inside 1..5" rather than "below or above": NaN compares false both ways and must count
            inside = pc.and_(pc.greater_equal(rating, 1), pc.less_equal(rating, 5))
            out_of_range += pc.sum(pc.invert(inside)).as_py() or 0
    return {"rows": rows, "null_keys": nulls, "ratings_out_of_range": out_of_range}


@dg.asset_check(asset=amazon_reviews, blocking=True, partitions_def=category_partitions)
def amazon_reviews_are_usable(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    """Every stored review has a user, an item, a finite 1-5 rating and a time."""
    # Every category of the run: a range backfill checks all it ingested in one run.
    found = review_problems(REVIEWS.store(storage), context.partition_keys)
    return dg.AssetCheckResult(
        passed=found["rows"] > 0 and found["null_keys"] == 0 and found["ratings_out_of_range"] == 0,
        metadata=found,
    )


@dg.asset_check(asset=amazon_items, blocking=True, partitions_def=category_partitions)
def amazon_items_unique_parent_asin(
    context: dg.AssetCheckExecutionContext, storage: StorageResource
) -> dg.AssetCheckResult:
    """One metadata row per parent_asin, else joins with reviews would multiply ratings."""
    window = Window.of("category", *context.partition_keys)  # a range backfill checks all its categories
    table = ITEMS.store(storage).read(window, columns=["category", "parent_asin"])
    pairs = table.group_by(["category", "parent_asin"]).aggregate([])
    repeated = table.num_rows - pairs.num_rows
    return dg.AssetCheckResult(
        passed=bool(table.num_rows) and repeated == 0,
        metadata={"rows": table.num_rows, "repeated_parent_asin": repeated},
    )


@dg.asset_check(asset=amazon_dataset, blocking=True, partitions_def=dataset_partitions)
def amazon_dataset_thresholds_hold(
    context: dg.AssetCheckExecutionContext, storage: StorageResource
) -> dg.AssetCheckResult:
    """Enough users and items to evaluate on, one rating per (user, item), and with k-core the thresholds hold."""
    tag = context.partition_key
    ratings = pl.from_arrow(DATASET_RATINGS.store(storage).read(Window.of("tag", tag)))
    spec = saved_spec(storage, tag)
    users = ratings.group_by("user_id").len()
    repeated = ratings.height - ratings.unique(["user_id", "parent_asin"]).height
    lightest = int(users["len"].min()) if users.height else 0
    k_core_ok = not spec.k_core or lightest >= spec.min_interactions
    return dg.AssetCheckResult(
        passed=users.height >= 2 and repeated == 0 and k_core_ok,
        metadata={"users": users.height, "repeated_pairs": repeated, "min_ratings_per_user": lightest},
    )


@dg.asset_check(
    asset=amazon_model_comparison,
    partitions_def=dataset_partitions,
    description="The champion (chosen on validation) against the strongest baseline (random or most-popular) on test "
    "NDCG@10: warns when the champion does worse beyond bootstrap noise (paired 95% interval below zero).",
)
def amazon_champion_vs_strongest_baseline(
    context: dg.AssetCheckExecutionContext, storage: StorageResource
) -> dg.AssetCheckResult:
    try:
        selection = json.loads(storage.model_store("amazon_comparison", context.partition_key).read_text(CHAMPION_FILE))
    except (ModelNotFound, FileNotFoundError):  # no comparison yet, or one from before champions existed
        selection = None
    if not selection:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"reason": "no validation scores: the models predate validation, retrain them"},
        )
    return champion_check_result(selection, "ndcg@10")
