"""The temporal next-basket protocol by shop week, the frequency baselines and per-basket metrics.

Weeks, not customers, are split: the earliest weeks train, the next `validation_weeks` choose settings and
the champion, the last `test_weeks` are reported once. A query is a (customer, target week): the target is the
customer's first basket of that week, the history every basket of the weeks before it (so a query is exactly
what a score stored for the previous week predicts, see `next_basket_serving.py`); customers with fewer than
`min_history` earlier baskets are left out. Nothing a model is fitted on comes from a validation or test week:
histories of later queries include earlier validation/test weeks, as a served model's inputs would.

Metrics at k over the full product vocabulary, binary relevance (Li et al. 2023, "A Next-Basket Recommendation
Reality Check"): Recall@k, NDCG@k, PHR@k (hit rate), also over *repeat* items (in the customer's history) and
*explore* items (new to the customer) apart; a query without repeat (explore) items has no repeat (explore)
value (NaN) rather than a zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from foundation.ranking_metrics import top_k_by_partition
from models.dunnhumby.basket_log import BasketLog

# scores (queries, products) for the customers at `rows` of a history log; -inf = not recommended
Scorer = Callable[[BasketLog, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class WeekSplit:
    train: list[str]
    validation: list[str]
    test: list[str]

    @classmethod
    def last_weeks(cls, weeks: Sequence[str], validation_weeks: int = 4, test_weeks: int = 4) -> WeekSplit:
        weeks = sorted(weeks)
        if len(weeks) < validation_weeks + test_weeks + 2:
            raise ValueError(
                f"{len(weeks)} weeks cannot hold {validation_weeks} validation and {test_weeks} test weeks"
            )
        cut = len(weeks) - validation_weeks - test_weeks
        return cls(weeks[:cut], weeks[cut : cut + validation_weeks], weeks[cut + validation_weeks :])

    def to_json(self) -> dict[str, list[str]]:
        return {"train": self.train, "validation": self.validation, "test": self.test}


@dataclass(frozen=True)
class WeekQueries:
    """The queries of one target week: history log (weeks before it), query rows, target and seen matrices."""

    week: str
    history: BasketLog
    rows: np.ndarray  # customer indices (of `history`) with a basket in the week
    targets: sp.csr_matrix  # (queries, products) the first basket of the week
    seen: sp.csr_matrix  # (queries, products) bought before the week


def week_queries(log: BasketLog, week: str, min_history: int = 2) -> WeekQueries:
    history = log.before(week)
    in_week = np.flatnonzero(log.basket_week == int(week))
    customers, first = np.unique(log.basket_customer[in_week], return_index=True)  # first basket: time order
    keep = history.length[customers] >= min_history
    rows, baskets = customers[keep], in_week[first[keep]]
    return WeekQueries(week, history, rows, log.items[baskets], (history.counts()[rows] > 0).astype(np.float64))


def split_queries(log: BasketLog, weeks: Sequence[str], min_history: int = 2) -> list[WeekQueries]:
    return [week_queries(log, w, min_history) for w in weeks]


# -- baselines (scorers) ---------------------------------------------------------------------------


def g_topfreq(history: BasketLog, rows: np.ndarray) -> np.ndarray:
    """G-TopFreq: products in the most baskets of everyone's history."""
    return np.broadcast_to(history.popularity().astype(np.float64), (rows.size, len(history.products))).copy()


def p_topfreq(history: BasketLog, rows: np.ndarray) -> np.ndarray:
    """P-TopFreq: the customer's own most frequent products, ties to the most recently bought; nothing else."""
    counts = history.counts()[rows].toarray()
    recency = history.weighted(0.5 ** np.minimum(history.position, 60))[rows].toarray()  # < 1 tie-breaker
    scores = counts + np.minimum(recency, 0.999)
    scores[counts == 0] = -np.inf
    return scores


def gp_topfreq(history: BasketLog, rows: np.ndarray) -> np.ndarray:
    """GP-TopFreq: P-TopFreq, the rest of the list filled by G-TopFreq."""
    return fill_with_popularity(p_topfreq(history, rows), history)


def fill_with_popularity(scores: np.ndarray, history: BasketLog, floor: float = 0.0) -> np.ndarray:
    """Products a model gives no positive score rank after every scored one, by global popularity."""
    popularity = history.popularity()
    fill = popularity / (popularity.max() + 1.0) - 2.0  # in [-2, -1): below any positive score
    return np.where(scores > floor, scores, fill[None, :])


BASELINES: dict[str, Scorer] = {"G-TopFreq": g_topfreq, "P-TopFreq": p_topfreq, "GP-TopFreq": gp_topfreq}


# -- metrics ---------------------------------------------------------------------------------------


def per_query_metrics(scores: np.ndarray, queries: WeekQueries, k: int = 10) -> dict[str, np.ndarray]:
    """Per-query Recall/NDCG/PHR@k over all, repeat and explore items (`all/ndcg@10`, `repeat/recall@10`, ...).
    A top-k slot whose score is -inf holds nothing (P-TopFreq with a short history)."""
    top = top_k_by_partition(scores, k)  # a full stable sort of every row took 10x longer
    valid = np.isfinite(np.take_along_axis(scores, top, axis=1))
    targets = queries.targets.toarray() > 0
    seen = queries.seen.toarray() > 0
    out: dict[str, np.ndarray] = {}
    discount = 1.0 / np.log2(np.arange(k) + 2.0)
    ideal_cumulative = np.concatenate([[0.0], np.cumsum(discount)])
    for part, relevant in (("all", targets), ("repeat", targets & seen), ("explore", targets & ~seen)):
        n_relevant = relevant.sum(axis=1)
        hits = np.take_along_axis(relevant, top, axis=1) & valid
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = hits.sum(axis=1) / n_relevant
            ndcg = (hits * discount).sum(axis=1) / ideal_cumulative[np.minimum(n_relevant, k)]
        phr = hits.any(axis=1).astype(np.float64)
        empty = n_relevant == 0
        out[f"{part}/recall@{k}"] = np.where(empty, np.nan, recall)
        out[f"{part}/ndcg@{k}"] = np.where(empty, np.nan, ndcg)
        out[f"{part}/phr@{k}"] = np.where(empty, np.nan, phr)
    return out


def evaluate_scorer(scorer: Scorer, split: Sequence[WeekQueries], k: int = 10) -> dict[str, np.ndarray]:
    """Per-query metrics of `scorer` over every week of a split, concatenated in week order."""
    parts = [per_query_metrics(scorer(q.history, q.rows), q, k) for q in split]
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
