"""Amazon asset checks: usable reviews, unique items, dataset thresholds (blocking), models beat random."""

import dagster as dg
import polars as pl
import pyarrow.compute as pc

from assets.amazon.dataset import amazon_dataset, saved_spec
from assets.amazon.ingestion import amazon_items, amazon_reviews
from assets.amazon.partitions import category_partitions, dataset_partitions
from assets.amazon.tables import DATASET_RATINGS, ITEMS, MODEL_METRICS, REVIEWS
from assets.amazon.training import amazon_model_comparison
from foundation.resources import StorageResource
from foundation.storage.delta_tables import Window


@dg.asset_check(asset=amazon_reviews, blocking=True, partitions_def=category_partitions)
def amazon_reviews_are_usable(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    """Every stored review has a user, an item, a 1-5 rating and a time (scanned batch by batch: bounded memory)."""
    store = REVIEWS.store(storage)
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
    table = ITEMS.store(storage).read(Window.of("category", context.partition_key), columns=["parent_asin"])
    repeated = table.num_rows - len(pc.unique(table["parent_asin"]))
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


@dg.asset_check(asset=amazon_model_comparison, partitions_def=dataset_partitions)
def amazon_models_beat_random(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    """Sanity: most-popular must beat random on NDCG@10, or the split or the metrics are broken."""
    table = MODEL_METRICS.store(storage).read(Window.of("tag", context.partition_key))
    ndcg = dict(zip(table["model"].to_pylist(), table["ndcg@10"].to_pylist(), strict=True))
    return dg.AssetCheckResult(passed=ndcg.get("popular", 0) > ndcg.get("random", 0), metadata={"ndcg@10": ndcg})
