"""Amazon champion selection: validation splits inside the training ratings (leave-last-out and a global time cut),
per-user scores, the champion by validation NDCG@10 served by the recommendations page even when it is a baseline."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from models.amazon.comparison import compare, select_champion
from models.amazon.recommendations_page import RecommendationsApp
from models.amazon.recommenders import (
    EASERecommender,
    MostPopularRecommender,
    RandomRecommender,
    global_time_split,
    make_split,
    temporal_leave_last_out,
)
from models.amazon.training import PER_USER_FILE, train_and_evaluate


def _ratings(users: int = 120, items: int = 40, per_user: int = 8, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, items + 1)
    popularity /= popularity.sum()
    rows = []
    for u in range(users):
        start = int(rng.integers(0, 1000))
        for k, i in enumerate(rng.choice(items, size=per_user, replace=False, p=popularity)):
            rows.append((f"u{u:03d}", f"i{i:02d}", datetime.fromtimestamp(start + 10 * k, tz=UTC), 5.0))
    return pl.DataFrame(rows, schema=["user_id", "parent_asin", "timestamp", "rating"], orient="row")


def test_leave_last_out_validation_holds_out_the_latest_training_rating():
    ratings = _ratings()
    split = temporal_leave_last_out(ratings)
    inner = split.validation
    assert inner is not None and inner.train.matrix.shape == split.train.matrix.shape
    assert (inner.train.item_ids == split.train.item_ids).all() and (inner.train.user_ids == split.train.user_ids).all()
    for user, (item,) in inner.test.items():
        assert split.train.matrix[user, item] == 1 and inner.train.matrix[user, item] == 0
        assert split.test[user][0] != item
    assert split.train.matrix.nnz - inner.train.matrix.nnz == len(inner.test) == len(split.test)


def test_global_time_cut_trains_on_everything_before_it():
    ratings = _ratings()
    split = make_split(ratings, "global_time", test_share=0.2, validation_share=0.2)
    cut = datetime.fromisoformat(split.cut)
    ids = {(u, i) for u, i in zip(ratings["user_id"], ratings["parent_asin"], strict=True)}
    assert split.protocol == "global_time" and len(ids) == ratings.height
    before = ratings.filter(pl.col("timestamp") < cut)
    assert split.train.matrix.nnz == before.height  # every earlier rating of every user trains
    for user, held in split.test.items():
        assert split.train.matrix[user].nnz > 0 and all(split.train.matrix[user, i] == 0 for i in held)
    inner = split.validation
    assert inner is not None and datetime.fromisoformat(inner.cut) < cut
    assert inner.train.matrix.nnz < split.train.matrix.nnz and inner.test
    with pytest.raises(ValueError, match="unknown split protocol"):
        make_split(ratings, "random")
    assert global_time_split(ratings, 0.2, 0.2).test == split.test


def test_the_validation_champion_is_served_and_the_page_says_when_it_is_a_baseline(tmp_path):
    split = temporal_leave_last_out(_ratings(seed=1))
    reports, per_user = [], {}
    models = {
        "random": (RandomRecommender(), RandomRecommender()),
        "popular": (MostPopularRecommender(), MostPopularRecommender()),
        "ease": (EASERecommender(l2=1e6), EASERecommender(l2=1e6)),  # over-regularised: no better than popular
    }
    for name, (model, validation_model) in models.items():
        folder = tmp_path / name
        folder.mkdir()
        report = train_and_evaluate(model, split, name, "t", folder, validation_model=validation_model)
        assert report["validation_metrics"]["users_evaluated"] == len(split.validation.test)
        with np.load(folder / PER_USER_FILE) as saved:
            per_user[name] = dict(saved)
            assert saved["test/ndcg@10"].mean() == pytest.approx(report["metrics"]["ndcg@10"])
        reports.append(report)
    comparison = compare("t", reports, per_user=per_user)
    selection = comparison.selection
    validation = {name: selection.validation[name]["ndcg@10"].mean for name in models}
    assert comparison.champion == max(validation, key=validation.__getitem__)
    assert comparison.champion == "popular" and selection.champion_is_baseline  # ties go to the baseline
    assert "**Champion (served): popular** (a baseline)" in comparison.markdown
    for name in models:
        interval = selection.test[name]["ndcg@10"]
        assert interval.low <= interval.mean <= interval.high
    assert select_champion({"ease": {"test/ndcg@10": np.ones(3)}}) is None  # reports from before validation

    fitted = {name: model for name, (model, _) in models.items()}
    page = RecommendationsApp.build("t", split, {}, fitted, comparison.champion, selection.champion_is_baseline)
    assert list(page.models)[0] == "popular"
    html = page.render(page.users[0])
    assert "Served: popular (a baseline, which beat every learned model)" in html
    assert "popular (served champion)" in html
    with pytest.raises(ValueError, match="not among the page's models"):
        RecommendationsApp.build("t", split, {}, fitted, "autoencoder")
