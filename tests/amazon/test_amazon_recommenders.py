"""Recommenders on a tiny world with two taste groups, and the temporal leave-last-out split."""

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from models.amazon.recommenders import (
    EASERecommender,
    ItemKNNRecommender,
    MostPopularRecommender,
    RandomRecommender,
    temporal_leave_last_out,
)


def _ratings(rows):
    return pl.DataFrame(
        {
            "user_id": [u for u, _, _ in rows],
            "parent_asin": [i for _, i, _ in rows],
            "timestamp": [datetime.fromtimestamp(t, tz=UTC) for _, _, t in rows],
        }
    )


def _world():
    rows = []
    for u in range(12):  # users 0-5 like a*, users 6-11 like b*; a0/b0 are the most popular of each
        group = "a" if u < 6 else "b"
        for t, item in enumerate([f"{group}0", f"{group}1", f"{group}2", f"{group}{3 + u % 3}"]):
            rows.append((f"u{u:02d}", item, t + u))
    rows.append(("u99", "a0", 1))  # one rating only: trains, never tested
    return _ratings(rows)


def test_split_holds_out_each_users_latest_rating():
    split = temporal_leave_last_out(_world())
    train = split.train
    assert len(split.test) == 12
    u0 = train.user_row("u00")
    assert [train.item_ids[i] for i in split.test[u0]] == ["a3"]
    assert sorted(train.item_ids[train.matrix[u0].indices]) == ["a0", "a1", "a2"]
    assert train.user_row("u99") not in split.test
    assert train.matrix.nnz == 12 * 3 + 1


@pytest.mark.parametrize("model", [ItemKNNRecommender(neighbours=5), EASERecommender(l2=1.0)])
def test_collaborative_models_recommend_from_the_users_group_and_skip_seen(model):
    split = temporal_leave_last_out(_world())
    model.fit(split.train)
    top = model.recommend("u00", k=3)
    assert set(top) <= {"a3", "a4", "a5"}
    assert not set(top) & {"a0", "a1", "a2"}
    assert set(model.recommend("u00", k=3, exclude_seen=False)) & {"a0", "a1", "a2"}


def test_baselines():
    split = temporal_leave_last_out(_world())
    popular = MostPopularRecommender().fit(split.train)
    assert popular.recommend("u99", k=1) == ["a1"]  # a0 seen; a1..b2 tie at 6 raters, ties by item id
    assert popular.recommend("u00", k=2, exclude_seen=False)[0] == "a0"  # 7 raters
    rnd = RandomRecommender(seed=1).fit(split.train)
    assert np.array_equal(rnd.scores(np.array([3])), rnd.scores(np.array([3])))
    assert len(set(rnd.recommend("u00", k=20))) == split.train.n_items - 3
