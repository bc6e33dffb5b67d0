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
  MRR@k     = the same, counting 0 when that item is not in the top k
  Coverage@k = distinct items in anybody's top-k / catalogue size

Three ways in, one set of definitions: `evaluate` (a scorer, seen items removed, several held-out items per
user: Amazon), `single_target_metrics` (a matrix of top-k ids against one held-out item per query, vectorised:
Retail's next item) and `target_set_metrics` (ranked lists of any hashable ids against a set of targets:
Dunnhumby's next basket). The per-query functions accept any hashable ids.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Sequence
from typing import Protocol

import numpy as np
import scipy.sparse as sp


def recall_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


def hit_rate_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    return float(bool(set(ranked[:k]) & set(relevant)))


def ndcg_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
    relevant = set(relevant)
    if not relevant:
        return 0.0
    dcg = sum(1.0 / np.log2(pos + 2) for pos, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1.0 / np.log2(pos + 2) for pos in range(min(len(relevant), k)))
    return float(dcg / ideal)


def average_precision_at_k(ranked: Sequence[Hashable], relevant: Collection[Hashable], k: int) -> float:
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


def top_k_by_partition(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best items per row, best first: a partial sort, cheaper than `rank_top_k` on big catalogues.

    Not tie-fair: which of several items tied at the k-th score get in, and their order, follow numpy's
    partition, not the index. Retail's reported figures were computed this way; new code wants `rank_top_k`.
    """
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def single_target_per_query(top: np.ndarray, targets: np.ndarray) -> dict[str, np.ndarray]:
    """Per query: HitRate, Recall, NDCG and MRR at k = top.shape[1] against one held-out item (see
    `single_target_metrics`); what `foundation.model_selection` bootstraps."""
    hits = top == np.asarray(targets)[:, None]
    found = hits.any(axis=1)
    position = hits.argmax(axis=1)  # 0-based position of the target, meaningful where found
    k = top.shape[1]
    return {
        f"hit_rate@{k}": found.astype(np.float64),
        f"recall@{k}": found.astype(np.float64),
        f"ndcg@{k}": np.where(found, 1.0 / np.log2(position + 2.0), 0.0),
        f"mrr@{k}": np.where(found, 1.0 / (position + 1.0), 0.0),
    }


def single_target_metrics(top: np.ndarray, targets: np.ndarray, digits: int | None = None) -> dict[str, float]:
    """HitRate, Recall, NDCG and MRR at k = top.shape[1] when every query has exactly one held-out item.

    `top` is (queries, k) item ids best first, `targets` the (queries,) held-out ids; a target that can never
    be ranked (e.g. -1 for an item outside the catalogue) is a miss, never dropped. With one relevant item
    Recall@k equals HitRate@k and the ideal DCG is 1. `digits` rounds the means (None: unrounded).
    """

    def mean(values: np.ndarray) -> float:
        return float(values.mean()) if digits is None else round(float(values.mean()), digits)

    per_query = single_target_per_query(top, targets)
    return {name: mean(values) for name, values in per_query.items()} | {"examples": int(len(targets))}


def target_set_metrics(
    recommendations: Sequence[Sequence[Hashable]], targets: Sequence[Collection[Hashable]], k: int
) -> dict[str, float]:
    """Mean Recall@k, NDCG@k and HitRate@k of ranked lists against per-query target sets, and `examples`.

    Queries with an empty target set are skipped (they say nothing); with none left the result is empty.
    Recommendations are assumed free of repeats (a repeated hit would count once).
    """
    per_query: dict[str, list[float]] = {f"recall@{k}": [], f"ndcg@{k}": [], f"hit_rate@{k}": []}
    for ranked, relevant in zip(recommendations, targets, strict=True):
        if not relevant:
            continue
        ranked = list(ranked)
        per_query[f"recall@{k}"].append(recall_at_k(ranked, relevant, k))
        per_query[f"ndcg@{k}"].append(ndcg_at_k(ranked, relevant, k))
        per_query[f"hit_rate@{k}"].append(hit_rate_at_k(ranked, relevant, k))
    examples = len(per_query[f"recall@{k}"])
    if not examples:
        return {}
    return {**{name: float(np.mean(values)) for name, values in per_query.items()}, "examples": float(examples)}


def evaluate(
    model: Scorer,
    train: sp.csr_matrix,
    test: dict[int, list[int]],
    ks: Sequence[int] = (10, 50),
    batch_size: int = 512,
) -> dict[str, float]:
    """Full-catalogue evaluation of `model` on held-out items `test` (user row -> item columns)."""
    return evaluate_per_user(model, train, test, ks, batch_size)[0]


def evaluate_per_user(
    model: Scorer,
    train: sp.csr_matrix,
    test: dict[int, list[int]],
    ks: Sequence[int] = (10, 50),
    batch_size: int = 512,
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """`evaluate`'s means, and each metric per test user (sorted user rows) for bootstrap intervals."""
    users = np.array(sorted(test), dtype=np.int64)
    n_items = train.shape[1]
    k_max = max(ks)
    values: dict[str, list[float]] = {}
    tops: list[np.ndarray] = []

    def add(name: str, value: float) -> None:
        values.setdefault(name, []).append(value)

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
    per_user = {name: np.asarray(v, dtype=np.float64) for name, v in values.items()}
    metrics = {name: sum(v) / n for name, v in values.items()}  # sequential sum: the figures it always gave
    metrics[f"coverage@{min(ks)}"] = catalogue_coverage(np.concatenate(tops) if tops else [], n_items)
    metrics["users_evaluated"] = float(users.size)
    return metrics, per_user
