"""Top-k ranking metrics over the full catalogue, and the evaluation loop every recommender goes through (shared).

Written for any implicit-feedback pipeline (nothing here knows about Amazon): a model scores every item for a
user, the items the user saw in training are removed, and the held-out items are looked up in that full
ranking; no sampled negatives. Ties are broken by item index, the same way in the top-k lists and in the
ranks, so a model that scores everything equal is not flattered.

Definitions (binary relevance, `rel` = held-out items of a user, `top` = first k of the ranking):
  Recall@k  = |top ∩ rel| / |rel|
  HitRate@k = 1 if top ∩ rel else 0
  NDCG@k    = sum_{i in top, hit} 1/log2(pos_i + 1) / sum_{j=1..min(|rel|,k)} 1/log2(j + 1)
  MAP@k     = mean over users of AP@k = sum_{i<=k} Precision@i * hit_i / min(|rel|, k)
  MRR       = mean of 1 / (full-catalogue rank of the best-ranked held-out item)
  Coverage@k = distinct items in anybody's top-k / catalogue size
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

import numpy as np
import scipy.sparse as sp


def recall_at_k(ranked: Sequence[int], relevant: Collection[int], k: int) -> float:
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


def hit_rate_at_k(ranked: Sequence[int], relevant: Collection[int], k: int) -> float:
    return float(bool(set(ranked[:k]) & set(relevant)))


def ndcg_at_k(ranked: Sequence[int], relevant: Collection[int], k: int) -> float:
    relevant = set(relevant)
    if not relevant:
        return 0.0
    dcg = sum(1.0 / np.log2(pos + 2) for pos, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1.0 / np.log2(pos + 2) for pos in range(min(len(relevant), k)))
    return float(dcg / ideal)


def average_precision_at_k(ranked: Sequence[int], relevant: Collection[int], k: int) -> float:
    relevant = set(relevant)
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for pos, item in enumerate(ranked[:k]):
        if item in relevant:
            hits += 1
            total += hits / (pos + 1)
    return total / min(len(relevant), k)


def reciprocal_rank(rank_of_first_relevant: int) -> float:
    """`rank` is 1-based in the full ranking (seen items removed)."""
    return 1.0 / rank_of_first_relevant


def catalogue_coverage(top_lists: Sequence[Sequence[int]], n_items: int) -> float:
    seen = set()
    for items in top_lists:
        seen.update(int(i) for i in items)
    return len(seen) / n_items if n_items else 0.0


class Scorer(Protocol):
    def scores(self, users: np.ndarray) -> np.ndarray:
        """Dense (len(users), n_items) scores, higher is better."""
        ...


def rank_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best items per row, best first, ties by lower index (a stable sort)."""
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def evaluate(
    model: Scorer,
    train: sp.csr_matrix,
    test: dict[int, list[int]],
    ks: Sequence[int] = (10, 50),
    batch_size: int = 512,
) -> dict[str, float]:
    """Full-catalogue evaluation of `model` on held-out items `test` (user row -> item columns)."""
    users = np.array(sorted(test), dtype=np.int64)
    n_items = train.shape[1]
    k_max = max(ks)
    sums: dict[str, float] = {}
    tops: list[np.ndarray] = []

    def add(name: str, value: float) -> None:
        sums[name] = sums.get(name, 0.0) + value

    for start in range(0, users.size, batch_size):
        rows = users[start : start + batch_size]
        scores = np.asarray(model.scores(rows), dtype=np.float64).copy()
        seen = train[rows]
        scores[np.repeat(np.arange(rows.size), np.diff(seen.indptr)), seen.indices] = -np.inf
        top = rank_top_k(scores, k_max)
        tops.append(top[:, : min(ks)])
        for i, user in enumerate(rows):
            relevant = test[int(user)]
            ranked = top[i].tolist()
            for k in ks:
                add(f"recall@{k}", recall_at_k(ranked, relevant, k))
                add(f"ndcg@{k}", ndcg_at_k(ranked, relevant, k))
                add(f"map@{k}", average_precision_at_k(ranked, relevant, k))
            add(f"hit_rate@{min(ks)}", hit_rate_at_k(ranked, relevant, min(ks)))
            row = scores[i]
            ranks = [
                1 + int(np.sum(row > row[item]) + np.sum(row[:item] == row[item])) for item in relevant
            ]  # stable-sort position
            add("mrr", reciprocal_rank(min(ranks)))
    n = max(users.size, 1)
    metrics = {name: value / n for name, value in sums.items()}
    metrics[f"coverage@{min(ks)}"] = catalogue_coverage(np.concatenate(tops) if tops else [], n_items)
    metrics["users_evaluated"] = float(users.size)
    return metrics
