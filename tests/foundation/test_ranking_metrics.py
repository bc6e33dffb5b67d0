"""Ranking metrics against hand-computed values, and the full-catalogue evaluation loop."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from foundation.ranking_metrics import (
    average_precision_at_k,
    catalogue_coverage,
    evaluate,
    hit_rate_at_k,
    ndcg_at_k,
    rank_top_k,
    recall_at_k,
    single_target_metrics,
    target_set_metrics,
    top_k_by_partition,
)

RANKED = [3, 1, 2, 5, 4]
RELEVANT = {1, 4}


def test_hand_computed_values():
    assert recall_at_k(RANKED, RELEVANT, 3) == 0.5
    assert recall_at_k(RANKED, RELEVANT, 5) == 1.0
    assert hit_rate_at_k(RANKED, RELEVANT, 1) == 0.0
    assert hit_rate_at_k(RANKED, RELEVANT, 2) == 1.0
    # hit at position 2 only: DCG = 1/log2(3); ideal = 1 + 1/log2(3)
    assert ndcg_at_k(RANKED, RELEVANT, 3) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    # hits at positions 2 and 5: DCG = 1/log2(3) + 1/log2(6)
    assert ndcg_at_k(RANKED, RELEVANT, 5) == pytest.approx(
        (1 / math.log2(3) + 1 / math.log2(6)) / (1 + 1 / math.log2(3))
    )
    # AP@3: precision 1/2 at the one hit, over min(2, 3) relevant items
    assert average_precision_at_k(RANKED, RELEVANT, 3) == pytest.approx(0.25)
    # AP@5: (1/2 + 2/5) / 2
    assert average_precision_at_k(RANKED, RELEVANT, 5) == pytest.approx(0.45)
    assert average_precision_at_k([1, 4, 9], RELEVANT, 3) == 1.0
    assert ndcg_at_k([1, 4, 9], RELEVANT, 3) == 1.0
    assert catalogue_coverage([[1, 2], [2, 3]], 10) == 0.3


class FixedScores:
    def __init__(self, scores):
        self.table = np.asarray(scores, dtype=float)

    def scores(self, users):
        return self.table[users]


def test_evaluate_ranks_the_full_catalogue_without_seen_items():
    train = sp.csr_matrix(np.array([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0]], dtype=np.float32))
    # user 0 saw item 0 (top scored, must be skipped): ranking 4, 2, 3, 1 -> held-out item 3 at rank 3
    # user 1 saw item 1: ranking 0, 2, 3, 4 -> held-out item 0 at rank 1
    model = FixedScores([[9, 1, 5, 4, 7], [8, 9, 3, 2, 1]])
    metrics = evaluate(model, train, {0: [3], 1: [0]}, ks=(2, 3))
    assert metrics["recall@2"] == 0.5
    assert metrics["recall@3"] == 1.0
    assert metrics["hit_rate@2"] == 0.5
    assert metrics["mrr"] == pytest.approx((1 / 3 + 1) / 2)
    assert metrics["ndcg@3"] == pytest.approx((1 / math.log2(4) + 1) / 2)
    assert metrics["map@3"] == pytest.approx((1 / 3 + 1) / 2)
    assert metrics["coverage@2"] == pytest.approx(len({4, 2, 0}) / 5)
    assert metrics["users_evaluated"] == 2


def test_ties_are_not_flattering():
    train = sp.csr_matrix(np.array([[1, 0, 0, 0, 0]], dtype=np.float32))
    metrics = evaluate(FixedScores([[0, 0, 0, 0, 0]]), train, {0: [4]}, ks=(1, 2))
    assert metrics["recall@2"] == 0.0
    assert metrics["mrr"] == pytest.approx(1 / 4)  # behind items 1, 2, 3, as in the top-k lists


def test_top_k_by_partition_orders_the_best_first():
    scores = np.array([[0.1, 0.9, 0.5, 0.7], [3.0, 1.0, 2.0, 0.0]])
    assert top_k_by_partition(scores, 3).tolist() == [[1, 3, 2], [0, 2, 1]]
    assert top_k_by_partition(scores, 9).shape == (2, 4)  # k is capped at the catalogue
    assert rank_top_k(scores, 3).tolist() == [[1, 3, 2], [0, 2, 1]]  # without ties the two agree


def test_single_target_metrics_by_hand():
    top = np.array([[7, 3, 5], [2, 7, 1], [4, 6, 8], [9, 9, 9]])
    targets = np.array([3, 1, 0, -1])  # hit at position 2, hit at position 3, miss, never rankable
    metrics = single_target_metrics(top, targets)
    assert metrics["hit_rate@3"] == 0.5 and metrics["recall@3"] == 0.5
    assert metrics["ndcg@3"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / 4)
    assert metrics["mrr@3"] == pytest.approx((1 / 2 + 1 / 3) / 4)
    assert metrics["examples"] == 4
    assert single_target_metrics(top, targets, digits=2)["mrr@3"] == 0.21


def test_target_set_metrics_by_hand():
    recommendations = [["a", "b", "c"], ["c", "d", "e"], ["a", "b", "c"]]
    targets = [{"b", "z"}, {"q"}, set()]  # the third query has nothing to find and is left out
    metrics = target_set_metrics(recommendations, targets, k=2)
    assert metrics["recall@2"] == 0.25  # (1/2 + 0) / 2
    assert metrics["hit_rate@2"] == 0.5
    # query 1: one hit at position 2, ideal with two targets = 1 + 1/log2(3); query 2: 0
    assert metrics["ndcg@2"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)) / 2)
    assert metrics["examples"] == 2
    assert target_set_metrics(recommendations, [set(), set(), set()], k=2) == {}
