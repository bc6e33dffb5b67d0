"""The dataset build (models/amazon/dataset_builder.py) with the ratings on a Daft dataframe, for a Ray cluster.

Same steps, same order, same report and the same rows as `build_dataset` (tests/foundation/
test_distributed_engine.py compares them). What grows with the corpus runs on the cluster: the ratings (571M
reviews in the full release) are read from Delta by the workers, de-duplicated, filtered by item popularity and
user activity, sampled and k-cored there. What stays on the driver, with the very functions of the in-process
build: the item metadata (one row per item, 48M in the full release, 7 narrow columns), the list of users
the sample draws from (polars' seeded `sample` on the sorted user ids, so both paths pick the same users) and the
final dataset, which the asset writes through `DeltaStore` in one commit.

Each stage is materialised once (`collect()`, kept in Ray's object store) because the report counts it and the
next stage reads it; without it Daft would recompute the chain from Delta for every count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from models.amazon.dataset_builder import BuildReport, BuildResult, BuildSpec, dataset_items, popular_items

if TYPE_CHECKING:
    import daft


def _col(name: str) -> daft.Expression:
    import daft

    return daft.col(name)


def _shape(df: daft.DataFrame) -> tuple[int, int, int]:
    """(users, ratings, items), like `dataset_builder._shape` (ids are never null: ingestion rejects those rows)."""
    row = df.agg(
        _col("user_id").count_distinct().alias("users"),
        _col("user_id").count("all").alias("ratings"),
        _col("parent_asin").count_distinct().alias("items"),
    ).to_pylist()[0]
    return int(row["users"] or 0), int(row["ratings"] or 0), int(row["items"] or 0)


def _n_unique(df: daft.DataFrame, column: str) -> int:
    return int(df.agg(_col(column).count_distinct().alias("n")).to_pylist()[0]["n"] or 0)


def _rows(df: daft.DataFrame) -> int:
    return int(df.count_rows())


def _frame(table: pl.DataFrame) -> daft.DataFrame:
    import daft

    return daft.from_arrow(table.to_arrow())


def _latest_per_user_item(df: daft.DataFrame) -> daft.DataFrame:
    """One rating per (user, item): the latest, and of two at the same moment the higher (the in-process
    build's sort by timestamp, then rating, keeping the last)."""
    keys = ["user_id", "parent_asin"]
    latest = df.groupby(*keys).agg(_col("timestamp").max())
    at_latest = df.join(latest, on=[*keys, "timestamp"], how="semi")
    return at_latest.groupby(*keys, "timestamp").agg(_col("rating").max())


def _drop_light_users(df: daft.DataFrame, min_interactions: int) -> tuple[daft.DataFrame, int, int]:
    per_user = df.groupby("user_id").agg(_col("parent_asin").count("all").alias("len")).collect()
    heavy = per_user.where(_col("len") >= min_interactions).select("user_id").collect()
    kept = df.join(heavy, on="user_id", how="semi").collect()
    return kept, _rows(per_user) - _rows(heavy), _rows(df) - _rows(kept)


def build_dataset_on_cluster(reviews: daft.DataFrame, items: pl.DataFrame, spec: BuildSpec) -> BuildResult:
    """`build_dataset` with `reviews` (user_id, parent_asin, rating, timestamp) as a Daft dataframe; `items` as
    in-process."""
    report = BuildReport()
    df = reviews.select("user_id", "parent_asin", "rating", "timestamp").collect()
    found = _shape(df)
    report.found(*found)

    deduplicated = _latest_per_user_item(df).select("user_id", "parent_asin", "rating", "timestamp").collect()
    report.repeats(found[1] - _rows(deduplicated))
    df = deduplicated

    popular = popular_items(items, spec)
    kept = df.join(_frame(popular), on="parent_asin", how="semi").collect()
    report.unpopular_items(_n_unique(df, "parent_asin") - _n_unique(kept, "parent_asin"), _rows(df) - _rows(kept), spec)
    df = kept

    df, dropped_users, dropped_ratings = _drop_light_users(df, spec.min_interactions)
    report.light_users(dropped_users, dropped_ratings, spec)

    if spec.sample_n and spec.sample_n < _n_unique(df, "user_id"):
        # The users to draw from come to the driver (ids only), so the draw is polars' own, as in-process.
        everyone = pl.from_arrow(df.select("user_id").distinct().to_arrow()).sort("user_id")
        chosen = everyone.sample(n=spec.sample_n, seed=spec.seed)
        df = df.join(_frame(chosen), on="user_id", how="semi").collect()
        report.sampled(spec, everyone.height, _rows(df))
    report.counts["sampled_users"] = _n_unique(df, "user_id")

    remaining_items = items.filter(pl.col("parent_asin").is_in(popular["parent_asin"].implode()))
    report.items_without_ratings(remaining_items.height - _n_unique(df, "parent_asin"))

    if spec.k_core:
        passes = 0
        while True:
            passes += 1
            before_shape = _shape(df)
            df, _, _ = _drop_light_users(df, spec.min_interactions)
            per_item = df.groupby("parent_asin").agg(_col("user_id").count("all").alias("len"))
            enough = per_item.where(_col("len") >= spec.min_item_interactions).select("parent_asin")
            df = df.join(enough, on="parent_asin", how="semi").collect()
            after_shape = _shape(df) if _rows(df) else (0, 0, 0)
            if after_shape == before_shape:
                break
            report.k_core_pass(passes, before_shape, after_shape)
        report.k_core_holds(passes, spec)

    result = pl.from_arrow(df.to_arrow()).select("user_id", "parent_asin", "rating", "timestamp")
    shape = (result["user_id"].n_unique(), result.height, result["parent_asin"].n_unique()) if result.height else None
    report.result(*(shape or (0, 0, 0)))
    return BuildResult(
        result.sort("user_id", "timestamp", "parent_asin"), dataset_items(items, result), report.lines, report.counts
    )
