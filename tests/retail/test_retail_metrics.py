"""Retail's evaluation runs through the shared foundation.ranking_metrics and reports the figures it always did."""

import numpy as np
import pytest

from foundation.ranking_metrics import ndcg_at_k, recall_at_k, single_target_metrics, top_k_by_partition
from models.retail.sequences import (
    CONTEXT_LENGTH,
    TOP_K,
    Catalogue,
    cooccurrence_scores,
    most_popular_scores,
    transition_scores,
)

# Computed by the retail-only `ranking_metrics(top_k(scores), labels)` this module replaced, on the seeded case
# below. Many scores tie (counts), so these also pin the partition top-k's tie order: a stable sort gives
# e.g. most_popular hit_rate 0.2 and integer_ties 0.2167.
BEFORE = {
    "most_popular": {"hit_rate@10": 0.25, "recall@10": 0.25, "ndcg@10": 0.1123, "mrr@10": 0.0719, "examples": 120},
    "last_item_transition": {
        "hit_rate@10": 0.2583,
        "recall@10": 0.2583,
        "ndcg@10": 0.115,
        "mrr@10": 0.0716,
        "examples": 120,
    },
    "item_cooccurrence": {
        "hit_rate@10": 0.3167,
        "recall@10": 0.3167,
        "ndcg@10": 0.129,
        "mrr@10": 0.0742,
        "examples": 120,
    },
    "integer_ties": {"hit_rate@10": 0.225, "recall@10": 0.225, "ndcg@10": 0.1, "mrr@10": 0.0636, "examples": 120},
}


def seeded_case() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(11)
    ids = np.arange(1, 41) * 10
    catalogue = Catalogue(ids)

    def contexts(n: int) -> np.ndarray:
        context = rng.choice(ids, size=(n, CONTEXT_LENGTH))
        lengths = rng.integers(0, CONTEXT_LENGTH + 1, size=n)
        context[np.arange(CONTEXT_LENGTH)[None, :] >= lengths[:, None]] = 0
        return context

    train_context, test_context = contexts(300), contexts(120)
    train_labels = rng.choice(ids, size=300)
    labels = catalogue.positions(rng.choice(np.append(ids, 999), size=120))  # 999 is outside: position -1
    assert (labels == -1).sum() == 2
    return labels, {
        "most_popular": np.asarray(most_popular_scores(train_labels, catalogue, len(labels))),
        "last_item_transition": transition_scores(train_context, train_labels, test_context, catalogue),
        "item_cooccurrence": cooccurrence_scores(train_context, train_labels, test_context, catalogue),
        "integer_ties": rng.integers(0, 3, size=(120, 40)).astype(np.float32),
    }


def test_reported_figures_are_unchanged_by_the_shared_metrics():
    labels, score_sets = seeded_case()
    after = {
        name: single_target_metrics(top_k_by_partition(scores, TOP_K), labels, digits=4)
        for name, scores in score_sets.items()
    }
    assert after == BEFORE


def test_vectorised_metrics_agree_with_the_per_query_definitions():
    labels, score_sets = seeded_case()
    top = top_k_by_partition(score_sets["item_cooccurrence"], TOP_K)
    metrics = single_target_metrics(top, labels)
    pairs = list(zip([row.tolist() for row in top], labels, strict=True))
    assert metrics["recall@10"] == pytest.approx(np.mean([recall_at_k(r, {t}, 10) for r, t in pairs]))
    assert metrics["ndcg@10"] == pytest.approx(np.mean([ndcg_at_k(r, {t}, 10) for r, t in pairs]))
    assert metrics["mrr@10"] == pytest.approx(np.mean([1 / (r.index(t) + 1) if t in r else 0.0 for r, t in pairs]))
