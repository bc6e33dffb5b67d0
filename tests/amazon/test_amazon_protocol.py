"""The evaluation protocol's rules on small hand-built data: tied latest ratings, tie-fair kNN pruning, recorded
settings, the positive threshold, and the autoencoder's epochs."""

import argparse
import json
from collections import Counter
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from models.amazon.autoencoder import AutoencoderConfig, epochs_for
from models.amazon.comparison import compare
from models.amazon.recommenders import EASERecommender, Interactions, ItemKNNRecommender, temporal_leave_last_out
from models.amazon.training import train_and_evaluate


def _ratings(rows):
    """rows: (user, item, unix time, rating)."""
    return pl.DataFrame(
        {
            "user_id": [r[0] for r in rows],
            "parent_asin": [r[1] for r in rows],
            "timestamp": [datetime.fromtimestamp(r[2], tz=UTC) for r in rows],
            "rating": [float(r[3]) for r in rows],
        }
    )


def _tied_world(users=300):
    # Every user rated "early" first, then i0, i1, i2 in the same second; 20 more users have no tie.
    rows = []
    for u in range(users):
        rows += [(f"u{u:03d}", "early", 1, 5)] + [(f"u{u:03d}", f"i{k}", 2, 5) for k in range(3)]
    rows += [(f"v{u:02d}", f"i{u % 3}", 1, 5) for u in range(20)] + [(f"v{u:02d}", "late", 3, 5) for u in range(20)]
    return _ratings(rows)


def test_tied_latest_ratings_hold_out_a_seeded_random_one_not_the_highest_item_id():
    split = temporal_leave_last_out(_tied_world())
    ids = split.train.item_ids
    held = Counter(ids[items[0]] for u, items in split.test.items() if split.train.user_ids[u].startswith("u"))
    # The old rule (sort by item id, hold out the last) held out i2 for all 300 users.
    assert set(held) == {"i0", "i1", "i2"} and all(70 <= n <= 130 for n in held.values()), held
    assert split.tied_users == 300 and split.tied_share == pytest.approx(300 / 320)
    assert all(ids[split.test[split.train.user_row(f"v{u:02d}")][0]] == "late" for u in range(20))
    # Reproducible with its seed, different with another one, and independent of the row order.
    again = temporal_leave_last_out(_tied_world().reverse())
    assert again.test == split.test
    assert temporal_leave_last_out(_tied_world(), seed=1).test != split.test


def test_item_knn_keeps_tied_neighbours_by_lower_item_index():
    # Item 0 is rated with each of items 1..5 by one user each: cos(0, j) is the same for every j.
    rows, cols = [], []
    for j in range(1, 6):
        rows += [j - 1, j - 1]
        cols += [0, j]
    x = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(5, 6))
    interactions = Interactions(x, np.array([f"u{i}" for i in range(5)]), np.array([f"i{i}" for i in range(6)]))
    knn = ItemKNNRecommender(neighbours=2).fit(interactions)
    assert sorted(knn.similarity[0].indices) == [1, 2]
    assert all(list(knn.similarity[j].indices) == [0] for j in range(1, 6))
    # Not an accident of the order the ties were stored in: a permuted catalogue keeps the two lowest ids again.
    perm = np.array([0, 5, 4, 3, 2, 1])
    knn = ItemKNNRecommender(neighbours=2).fit(Interactions(x[:, perm].tocsr(), interactions.user_ids, perm))
    assert sorted(knn.similarity[0].indices) == [1, 2]


def test_reports_record_their_settings_and_the_comparison_refuses_mixed_splits(tmp_path):
    split = temporal_leave_last_out(_tied_world(30))
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir(), (tmp_path / "c").mkdir()
    ease = train_and_evaluate(EASERecommender(l2=5.0), split, "ease", "t", tmp_path / "a")
    assert json.loads((tmp_path / "a" / "metrics.json").read_text())["settings"] == {"l2": 5.0}
    assert ease["split_settings"]["tie_break_seed"] == 0 and ease["tied_share"] == pytest.approx(30 / 50)
    knn = train_and_evaluate(ItemKNNRecommender(neighbours=7), split, "item_knn", "t", tmp_path / "b")
    comparison = compare("t", [ease, knn], expected={"ease": {"l2": 200.0}, "item_knn": {"neighbours": 7}})
    assert comparison.stale == {"ease": {"l2": [5.0, 200.0]}}
    assert "Settings differ from the current ones** for ease: l2 5.0 (now 200.0)" in comparison.header
    assert "60.0% of test users had several latest ratings" in comparison.header
    assert "l2=5.0" in comparison.table
    other = train_and_evaluate(
        EASERecommender(l2=5.0), temporal_leave_last_out(_tied_world(30), seed=2), "ease", "t", tmp_path / "c"
    )
    with pytest.raises(ValueError, match="different splits"):
        compare("t", [other, knn])


def test_positive_threshold_drops_low_ratings_before_the_split():
    rows = [("a", "x", 1, 5), ("a", "y", 2, 4), ("a", "z", 3, 2), ("b", "x", 1, 3), ("b", "y", 2, 5)]
    everything = temporal_leave_last_out(_ratings(rows))
    assert everything.train.item_ids[everything.test[0][0]] == "z" and len(everything.test) == 2
    liked = temporal_leave_last_out(_ratings(rows), min_rating=4)
    ids = liked.train.item_ids
    assert list(ids) == ["x", "y"] and liked.min_rating == 4
    assert {liked.train.user_ids[u]: ids[i[0]] for u, i in liked.test.items()} == {"a": "y"}  # b has one positive


def test_autoencoder_epochs_scale_with_the_data():
    config = AutoencoderConfig()  # 1500 steps of 128 users, 30 to 200 epochs
    assert epochs_for(config, 1_513) == 125  # 12 steps an epoch: the old fixed 30 epochs were 360 steps
    assert epochs_for(config, 100_000) == 30
    assert epochs_for(config, 10) == 200
    assert epochs_for(AutoencoderConfig(epochs=7), 1_513) == 7


def test_storefront_build_accepts_model_settings():
    from pipelines.commands import amazon_build

    parser = argparse.ArgumentParser()
    amazon_build.register(parser.add_subparsers())
    args = parser.parse_args(
        ["build", "--category", "C", "--tag", "t", "--train", "--ease-lambda", "50", "--knn-k", "20"]
        + ["--autoencoder-epochs", "80", "--min-rating", "4"]
    )
    chosen = (
        args.model_ease_l2,
        args.model_knn_neighbours,
        args.model_autoencoder_epochs,
        args.model_positive_min_rating,
    )
    assert chosen == (50, 20, 80, 4) and args.seed == 0 and args.model_seed is None
