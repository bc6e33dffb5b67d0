"""Champion selection in retail: every candidate scored on validation, the winner served even when it is a baseline,
test metrics with bootstrap intervals, and the global time-cut split."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pandas as pd
import pytest

from models.retail.config import PRESETS, TwoTowerConfig, resolve_config
from models.retail.retrieval import CANDIDATES, catalogue_features, train_and_evaluate
from models.retail.sequences import as_arrays, leakage_counts, split_examples
from models.retail.serving import BaselineRecommender, load_recommender
from models.retail.shop import start_shop
from sandbox.retail import catalogue_frame, generate_world, transactions_frame


@pytest.fixture(scope="module")
def purchases() -> tuple[pd.DataFrame, pd.DataFrame]:
    world = generate_world(n_people=400, n_items=60, seed=5)
    tx = world.transactions.merge(
        world.customers[["StoreID", "ID", "PersonID"]].rename(columns={"ID": "CustomerID"}),
        on=["StoreID", "CustomerID"],
    )
    return transactions_frame(world, tx, tx["PersonID"].astype(str)), catalogue_frame(world)


def test_a_baseline_that_wins_validation_is_served_and_says_so(purchases, tmp_path) -> None:
    frame, catalogue = purchases
    split = split_examples(frame)
    # One epoch of a tiny model: the transition table of a first-order generator beats it on validation.
    config = TwoTowerConfig(embedding_dim=4, gru_units=4, epochs=1, learning_rate=0.001)
    run = train_and_evaluate(
        catalogue_features(catalogue), *(as_arrays(p) for p in split.parts().values()), config, settings={"t": 1}
    )
    comparison = run.comparison
    validation = {name: comparison.validation[name]["ndcg@10"].mean for name in CANDIDATES}
    assert run.champion == max(validation, key=validation.__getitem__) != "two_tower"
    assert comparison.champion_is_baseline and comparison.runner_up is not None
    for name in CANDIDATES:  # test metrics, once for every candidate, with their intervals
        interval = comparison.test[name]["ndcg@10"]
        assert interval.low <= interval.mean <= interval.high and interval.low < interval.high

    run.save(tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["champion"] == run.champion and report["champion_is_baseline"]
    assert set(report["comparison"]["test"]["two_tower"]["ndcg@10"]) == {"mean", "low", "high"}
    assert report["comparison"]["settings"]["t"] == 1 and report["comparison"]["settings"]["config"]["epochs"] == 1
    summary = run.summary()
    assert summary["champion"] == run.champion and summary["validation_examples"] == len(split.validation)

    recommender = load_recommender(tmp_path)
    assert isinstance(recommender, BaselineRecommender) and recommender.model_name == run.champion
    server = start_shop(tmp_path)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            health = client.get("/healthz").json()
            assert health["model"] == run.champion and health["is_baseline"] is True
            assert f"Recommendations by {run.champion} (a simple baseline" in client.get("/").text
            cart = [int(catalogue["item_id"].iloc[0]), int(catalogue["item_id"].iloc[1])]
            answer = client.post("/api/recommendations", json={"items": cart}).json()["recommendations"]
            ids = [r["item_id"] for r in answer]
            assert len(set(ids)) == 10 and not set(ids) & set(cart)
    finally:
        server.stop()


def test_global_time_split_trains_only_on_purchases_before_the_cuts(purchases) -> None:
    frame, _ = purchases
    split = split_examples(frame, "global_time", validation_share=0.15, test_share=0.15)
    cuts = split.stats.cuts
    arrays = {name: as_arrays(part) for name, part in split.parts().items()}
    assert arrays["train"]["label_timestamp"].max() < cuts["validation_from"] <= cuts["test_from"]
    assert (arrays["validation"]["label_timestamp"] >= cuts["validation_from"]).all()
    assert (arrays["validation"]["label_timestamp"] < cuts["test_from"]).all()
    assert (arrays["test"]["label_timestamp"] >= cuts["test_from"]).all()
    for name in ("validation", "test"):  # one held-out purchase per entity and split
        assert len(set(arrays[name]["entity_id"][:, 0])) == len(arrays[name]["entity_id"])
    assert not any(leakage_counts(arrays["train"], arrays["test"], arrays["validation"]).values())
    # Leave-last-out: each entity's last purchase is its test example, the one before its validation example.
    per_user = split_examples(frame)
    assert per_user.stats.validation_examples == per_user.stats.test_examples > 0
    with pytest.raises(ValueError, match="unknown split protocol"):
        split_examples(frame, "random")


def test_presets_follow_the_hardware_and_explicit_fields_win(monkeypatch) -> None:
    monkeypatch.setenv("STOREFRONT_ACCELERATOR", "cpu")
    config, choice = resolve_config(TwoTowerConfig(epochs=3), explicit={"epochs"})
    assert choice.preset == "small" and "no GPU" in choice.reason
    assert config.epochs == 3 and config.embedding_dim == PRESETS["small"].embedding_dim
    monkeypatch.setenv("STOREFRONT_ACCELERATOR", "gpu")
    config, choice = resolve_config(TwoTowerConfig())
    assert choice.preset == "full" and config.gru_units == PRESETS["full"].gru_units
    config, choice = resolve_config(TwoTowerConfig(preset="small"))
    assert choice.preset == "small" and "set in config" in choice.reason
    assert np.isfinite(config.learning_rate)
