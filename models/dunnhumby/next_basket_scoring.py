"""Scoring a week's customers with a published next-basket model (no Keras import of its own: the model
object brings it), into rows of the `dunnhumby_next_basket_scores` table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa

from models.dunnhumby.baskets import histories_by_customer

if TYPE_CHECKING:
    from models.dunnhumby.next_basket import NextBasketModel

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


def score_week(model: NextBasketModel, history_rows: pa.Table, week: str, version: str, k: int) -> pl.DataFrame:
    """Top-k products for every known customer in `history_rows` (baskets up to the end of `week`)."""
    histories = histories_by_customer(history_rows)
    names = sorted(histories)
    recommendations = model.recommend([histories[c] for c in names], k) if names else []
    return pl.DataFrame(
        [
            {"SHOP_WEEK": week, "CUST_CODE": c, "RANK": r, "PROD_CODE": p, "SCORE": s, "MODEL_VERSION": version}
            for c, recs in zip(names, recommendations, strict=True)
            for r, (p, s) in enumerate(recs, start=1)
        ],
        schema=pl.Schema(SCORES_SCHEMA),
    )
