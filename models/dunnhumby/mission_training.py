"""Shopping missions end to end: fit the LDA on a sample of baskets, score every basket, measure agreement
with the dataset's own labels, and build the three mission tables (missions, profiles, top products).

The `dunnhumby_shopping_missions` asset reads the baskets, calls `train_missions`, publishes the model and
writes the tables this module builds; the rows' schemas are declared here because this code produces them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa

from foundation.charts import bar_chart_png
from foundation.markdown import markdown_table
from models.dunnhumby.missions import GRANULARITIES, MissionModel, agreement, fit_missions, mission_profiles

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

WEEK_MISSIONS_SCHEMA = pa.schema(
    [
        ("SHOP_WEEK", pa.string()),
        ("BASKET_ID", pa.int64()),
        ("CUST_CODE", pa.string()),
        ("MISSION", pa.int32()),  # null when UNKNOWN_PRODUCTS_ONLY
        ("MISSION_PROBABILITY", pa.float64()),
        ("KNOWN_PRODUCTS", pa.int32()),  # lines whose product the mission model's vocabulary holds
        ("UNKNOWN_PRODUCTS_ONLY", pa.bool_()),  # flagged: no known product, so no mission
        ("MODEL_VERSION", pa.string()),
    ]
)

# The dataset's own basket labels the missions are compared with ("XX" = unknown, left out).
LABELS = ("BASKET_DOMINANT_MISSION", "BASKET_TYPE")


def hierarchy_levels(lines: pl.DataFrame, granularity: str) -> dict[str, str] | None:
    """PROD_CODE -> its code at `granularity` from transaction lines (None at "product": no lookup needed)."""
    column = GRANULARITIES[granularity]
    if column == "PROD_CODE":
        return None
    pairs = lines.select("PROD_CODE", column).drop_nulls().unique()
    return dict(zip(pairs["PROD_CODE"].to_list(), pairs[column].to_list(), strict=True))


# Transaction-line columns the profiles need (product division by items).
PROFILE_LINE_COLUMNS = ["BASKET_ID", "SHOP_WEEK", "PROD_CODE_40", "QUANTITY"]
TOP_PRODUCTS = 10


@dataclass
class MissionRun:
    """A fitted mission model and every basket scored with it."""

    model: MissionModel
    scored: pl.DataFrame  # the baskets plus MISSION and MISSION_PROBABILITY
    agreement: dict[str, dict[str, float]]  # label -> {"nmi", "random_nmi"}
    baskets_fitted: int

    def report(self) -> dict[str, Any]:
        return {
            "k": self.model.k,
            "granularity": self.model.vectorizer.granularity,
            "perplexity_by_k": self.model.perplexity_by_k,
            "nmi": self.agreement,
            "baskets_fitted": self.baskets_fitted,
            "baskets_scored": self.scored.height,
        }

    def summary(self) -> dict[str, Any]:
        """Plain values for the missions asset's metadata."""
        dominant, basket_type = (self.agreement[label] for label in LABELS)
        return {
            "k": self.model.k,
            "granularity": self.model.vectorizer.granularity,
            "baskets_without_known_products": int(self.scored["MISSION"].null_count()),
            "perplexity_by_k": {str(k): round(v, 1) for k, v in self.model.perplexity_by_k.items()},
            "nmi_dominant_mission": round(dominant["nmi"], 4),
            "nmi_dominant_mission_random": round(dominant["random_nmi"], 4),
            "nmi_basket_type": round(basket_type["nmi"], 4),
            "nmi_basket_type_random": round(basket_type["random_nmi"], 4),
        }

    def perplexity_chart(self) -> bytes:
        return bar_chart_png({f"k={k}": v for k, v in self.model.perplexity_by_k.items()}, "held-out perplexity by k")

    def basket_missions(self, version: str) -> pa.Table:
        """MISSIONS_SCHEMA rows: every basket's mission and its probability."""
        return self.scored.select(
            "SHOP_WEEK",
            "BASKET_ID",
            "CUST_CODE",
            "MISSION",
            "MISSION_PROBABILITY",
            pl.lit(version).alias("MODEL_VERSION"),
        ).to_arrow()

    def profiles(self, lines: pl.DataFrame, version: str) -> pl.DataFrame:
        """PROFILES_SCHEMA rows from the baskets and their transaction lines (PROFILE_LINE_COLUMNS)."""
        scored = self.scored.filter(pl.col("MISSION").is_not_null())
        lines = lines.join(scored.select("SHOP_WEEK", "BASKET_ID", "MISSION"), on=["SHOP_WEEK", "BASKET_ID"])
        return mission_profiles(scored, lines).with_columns(pl.lit(version).alias("MODEL_VERSION"))

    def top_products(self, version: str, n: int = TOP_PRODUCTS) -> pa.Table:
        """TOP_PRODUCTS_SCHEMA rows: the n products of highest weight per mission."""
        return self.model.top_products(n).with_columns(pl.lit(version).alias("MODEL_VERSION")).to_arrow()


def train_missions(
    baskets: pl.DataFrame,
    k_grid: Sequence[int],
    max_iter: int,
    learning_method: str,
    fit_max_baskets: int,
    seed: int = 0,
    granularity: str = "product",
    levels: dict[str, str] | None = None,
) -> MissionRun:
    """LDA with k chosen by held-out perplexity, fitted on a sample of at most `fit_max_baskets` baskets;
    every basket is scored, and the missions are compared with the dataset's labels next to random.
    Baskets are put in key order first: Delta returns a week's files in no fixed order, and online LDA
    depends on the order it sees documents in, so without this two runs on the same table could differ.
    `granularity` picks the word (product, class, department, division; `levels` maps PROD_CODE to its code)."""
    baskets = baskets.sort(["SHOP_WEEK", "BASKET_ID"])
    fit_rows = random.Random(seed).sample(range(baskets.height), min(baskets.height, fit_max_baskets))
    fit = baskets[sorted(fit_rows)]
    model = fit_missions(
        fit["PRODUCTS"].to_list(),
        fit["QUANTITIES"].to_list(),
        k_grid=k_grid,
        max_iter=max_iter,
        learning_method=learning_method,
        granularity=granularity,
        levels=levels,
    )
    missions, probability = model.assign(baskets["PRODUCTS"].to_list(), baskets["QUANTITIES"].to_list())
    # Baskets with no product of the fitted vocabulary get no mission (null), not the LDA prior's mission 0.
    scored = baskets.with_columns(
        pl.Series("MISSION", missions, pl.Int32).replace(-1, None),
        pl.Series("MISSION_PROBABILITY", probability).fill_nan(None),
    )
    labelled = {}
    for label in LABELS:
        known = scored.filter((pl.col(label) != "XX") & pl.col("MISSION").is_not_null())
        labelled[label] = agreement(known["MISSION"].to_numpy(), known[label].to_list())
    return MissionRun(model, scored, labelled, fit.height)


def dominant_mission_index_markdown(profiles: pl.DataFrame) -> str:
    """The profile index (100 = average) of each mission by the dataset's dominant-mission label."""
    dominant = profiles.filter(pl.col("ATTRIBUTE") == "BASKET_DOMINANT_MISSION").pivot(
        "VALUE", index="MISSION", values="INDEX"
    )
    dominant = dominant.sort("MISSION")
    rows = [[f"{v:.0f}" if isinstance(v, float) else str(v) for v in row] for row in dominant.rows()]
    return markdown_table(dominant.columns, rows)


def week_missions(model: MissionModel, baskets: pl.DataFrame, version: str) -> pa.Table:
    """WEEK_MISSIONS_SCHEMA rows for new weeks' baskets with the published model, mission ids unchanged (no
    refit); a basket none of whose products the model knows is flagged instead of given a mission."""
    missions, probability = model.assign(baskets["PRODUCTS"].to_list(), baskets["QUANTITIES"].to_list())
    vectorizer = model.vectorizer
    known = [sum(vectorizer.word(p) in vectorizer.vocabulary for p in b) for b in baskets["PRODUCTS"].to_list()]
    return (
        baskets.select("SHOP_WEEK", "BASKET_ID", "CUST_CODE")
        .with_columns(
            pl.Series("MISSION", missions, pl.Int32).replace(-1, None),
            pl.Series("MISSION_PROBABILITY", probability).fill_nan(None),
            pl.Series("KNOWN_PRODUCTS", known, pl.Int32),
            pl.Series("UNKNOWN_PRODUCTS_ONLY", [k == 0 for k in known], pl.Boolean),
            pl.lit(version).alias("MODEL_VERSION"),
        )
        .to_arrow()
        .cast(WEEK_MISSIONS_SCHEMA)
    )
