"""The DeepCart `build` step: from all ratings of a category to a dataset worth training on.

Same filters as the original, in the same order, with the same kind of report, plus an optional iterative
k-core so that "users with at least N ratings" still holds after items were dropped:

1. keep one rating per (user, item), the latest (of two at the same moment, the higher);
2. keep items whose site-wide `rating_number` (from the metadata) is above `min_ratings`;
3. keep users with at least `min_interactions` ratings;
4. sample `sample_n` users (0 keeps all);
5. drop items with no ratings left;
6. with `k_core`, repeat "users >= min_interactions, items >= min_item_interactions" until nothing changes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import polars as pl


@dataclass(frozen=True)
class BuildSpec:
    category: str
    min_interactions: int = 5
    min_ratings: int = 10
    sample_n: int = 0
    k_core: bool = False
    min_item_interactions: int = 1
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class BuildResult:
    ratings: pl.DataFrame  # user_id, parent_asin, rating, timestamp
    items: pl.DataFrame  # parent_asin and its metadata columns
    report: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class BuildReport:
    """The original `build` report ("Found ... Dropped ... Sampled ...") and its counts, worded once for both
    engines (this module in process, `dataset_builder_daft` on a cluster)."""

    lines: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def found(self, users: int, ratings: int, items: int) -> None:
        self.lines.append(f"Found {users:,} users with {ratings:,} ratings of {items:,} items.")
        self.counts |= {"found_users": users, "found_ratings": ratings, "found_items": items}

    def repeats(self, dropped: int) -> None:
        if dropped:
            self.lines.append(f"Dropped {dropped:,} repeated ratings of an item by the same user (kept the latest).")
        self.counts["dropped_repeats"] = dropped

    def unpopular_items(self, dropped_items: int, dropped_ratings: int, spec: BuildSpec) -> None:
        self.lines.append(
            f"Dropped {dropped_items:,} items with {spec.min_ratings:,} or fewer ratings (or no metadata) "
            f"and their {dropped_ratings:,} ratings."
        )
        self.counts["dropped_unpopular_items"] = dropped_items

    def light_users(self, dropped_users: int, dropped_ratings: int, spec: BuildSpec) -> None:
        self.lines.append(
            f"Dropped {dropped_users:,} users with fewer than {spec.min_interactions:,} ratings "
            f"({dropped_ratings:,} ratings)."
        )
        self.counts["dropped_light_users"] = dropped_users

    def sampled(self, spec: BuildSpec, total: int, ratings: int) -> None:
        self.lines.append(f"Sampled {spec.sample_n:,} of {total:,} users ({ratings:,} ratings).")

    def items_without_ratings(self, dropped: int) -> None:
        self.lines.append(f"Dropped {dropped:,} items with no ratings left.")

    def k_core_pass(self, passes: int, before: tuple[int, int, int], after: tuple[int, int, int]) -> None:
        self.lines.append(
            f"k-core pass {passes}: dropped {before[0] - after[0]:,} users and {before[2] - after[2]:,} "
            f"items ({before[1] - after[1]:,} ratings)."
        )

    def k_core_holds(self, passes: int, spec: BuildSpec) -> None:
        self.lines.append(
            f"k-core holds after {passes} pass(es): every user has >= {spec.min_interactions} ratings, "
            f"every item >= {spec.min_item_interactions}."
        )
        self.counts["k_core_passes"] = passes

    def result(self, users: int, ratings: int, items: int) -> None:
        self.counts |= {"users": users, "ratings": ratings, "items": items}


def _shape(df: pl.DataFrame) -> tuple[int, int, int]:
    return df["user_id"].n_unique(), df.height, df["parent_asin"].n_unique()


def build_dataset(reviews: pl.DataFrame, items: pl.DataFrame, spec: BuildSpec) -> BuildResult:
    """`reviews` needs user_id, parent_asin, rating, timestamp; `items` needs parent_asin, rating_number."""
    report = BuildReport()
    df = reviews.select("user_id", "parent_asin", "rating", "timestamp")
    report.found(*_shape(df))

    before = df.height
    # The rating as a last sort key makes the kept row deterministic when a user rated an item twice at the same
    # moment (the cluster path, models/amazon/dataset_builder_daft.py, keeps the same one).
    df = df.sort("timestamp", "parent_asin", "rating").unique(
        ["user_id", "parent_asin"], keep="last", maintain_order=True
    )
    report.repeats(before - df.height)

    popular = popular_items(items, spec)
    kept = df.join(popular, on="parent_asin", how="semi")
    report.unpopular_items(df["parent_asin"].n_unique() - kept["parent_asin"].n_unique(), df.height - kept.height, spec)
    df = kept

    df, dropped_users, dropped_ratings = _drop_light_users(df, spec.min_interactions)
    report.light_users(dropped_users, dropped_ratings, spec)

    if spec.sample_n and spec.sample_n < df["user_id"].n_unique():
        everyone = df.select("user_id").unique().sort("user_id")
        chosen = everyone.sample(n=spec.sample_n, seed=spec.seed)
        df = df.join(chosen, on="user_id", how="semi")
        report.sampled(spec, everyone.height, df.height)
    report.counts["sampled_users"] = df["user_id"].n_unique()

    remaining_items = items.filter(pl.col("parent_asin").is_in(popular["parent_asin"].implode()))
    report.items_without_ratings(remaining_items.height - df["parent_asin"].n_unique())

    if spec.k_core:
        passes = 0
        while True:
            passes += 1
            before_shape = _shape(df)
            df, _, _ = _drop_light_users(df, spec.min_interactions)
            per_item = df.group_by("parent_asin").len()
            df = df.join(per_item.filter(pl.col("len") >= spec.min_item_interactions), on="parent_asin", how="semi")
            after_shape = _shape(df) if df.height else (0, 0, 0)
            if after_shape == before_shape:
                break
            report.k_core_pass(passes, before_shape, after_shape)
        report.k_core_holds(passes, spec)

    report.result(*(_shape(df) if df.height else (0, 0, 0)))
    return BuildResult(
        df.sort("user_id", "timestamp", "parent_asin"), dataset_items(items, df), report.lines, report.counts
    )


def popular_items(items: pl.DataFrame, spec: BuildSpec) -> pl.DataFrame:
    """parent_asin of the items rated more than `min_ratings` times site-wide."""
    return items.filter(pl.col("rating_number") > spec.min_ratings).select("parent_asin").unique()


def dataset_items(items: pl.DataFrame, ratings: pl.DataFrame) -> pl.DataFrame:
    """The metadata of the items left in `ratings`, one row per item."""
    kept = items.join(ratings.select("parent_asin").unique(), on="parent_asin", how="semi")
    return kept.unique("parent_asin").sort("parent_asin")


def _drop_light_users(df: pl.DataFrame, min_interactions: int) -> tuple[pl.DataFrame, int, int]:
    per_user = df.group_by("user_id").len()
    heavy = per_user.filter(pl.col("len") >= min_interactions)
    kept = df.join(heavy, on="user_id", how="semi")
    return kept, per_user.height - heavy.height, df.height - kept.height
