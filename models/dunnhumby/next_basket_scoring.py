"""Scoring shop weeks with the served next-basket champion, into rows of `dunnhumby_next_basket_scores`.

Semantics: the rows stored for week W are the prediction for each customer's NEXT basket after week W, made
from their baskets up to and including week W (the customers scored are those who shopped in W). That is the
query the model was chosen on (`next_basket_evaluation.py`: a week's first basket from the weeks before it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
import pyarrow as pa

from models.dunnhumby.basket_log import BasketLog
from models.dunnhumby.next_basket_selection import ServedNextBasket

SCORES_SCHEMA = pa.schema(
    [
        ("SHOP_WEEK", pa.string()),  # the predictions are for the next basket AFTER this week
        ("CUST_CODE", pa.string()),
        ("RANK", pa.int32()),
        ("PROD_CODE", pa.string()),
        ("SCORE", pa.float64()),
        ("MODEL_VERSION", pa.string()),
    ]
)


def score_weeks(model: ServedNextBasket, baskets: pa.Table, weeks: Sequence[str], version: str, k: int) -> pl.DataFrame:
    """Top-k products for every known customer who shopped in each of `weeks`, from their history through
    that week. `baskets`: rows of the baskets table (HISTORY_COLUMNS) up to the last of `weeks` at least."""
    log = BasketLog.from_baskets(baskets, products=model.products)  # products the model does not know drop out
    frames = []
    for week in sorted(weeks):
        history = log.through(week)
        rows = np.unique(history.basket_customer[history.basket_week == int(week)])
        recommendations = model.recommend(history, rows, k)
        frames.append(
            pl.DataFrame(
                [
                    {
                        "SHOP_WEEK": week,
                        "CUST_CODE": log.customers[r],
                        "RANK": rank,
                        "PROD_CODE": p,
                        "SCORE": s,
                        "MODEL_VERSION": version,
                    }
                    for r, recs in zip(rows, recommendations, strict=True)
                    for rank, (p, s) in enumerate(recs, start=1)
                ],
                schema=pl.Schema(SCORES_SCHEMA),
            )  # fmt: skip
        )
    return pl.concat(frames) if frames else pl.DataFrame(schema=pl.Schema(SCORES_SCHEMA))
