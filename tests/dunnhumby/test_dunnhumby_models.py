"""Shopping missions (LDA), next-basket baselines and metrics, the Keras model's save/load round trip."""

import math
from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from models.dunnhumby.baskets import baskets_from_lines, customer_sequences
from models.dunnhumby.missions import BasketVectorizer, MissionModel, agreement, fit_missions, mission_profiles
from models.dunnhumby.next_basket import (
    NextBasketConfig,
    NextBasketModel,
    baseline_recommendations,
    evaluate,
    personal_top,
    ranking_metrics,
    results_table,
    temporal_split,
)
from sandbox.dunnhumby import DunnhumbySandbox
from scrapers.dunnhumby.week_files import parse_week_file, shop_weeks


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Six sandbox weeks read through the real parser, as basket rows, plus the planted missions."""
    folder = tmp_path_factory.mktemp("landing")
    sandbox = DunnhumbySandbox(seed=3, n_customers=300)
    tables = [parse_week_file(p).table for p in sandbox.write_weeks(folder, shop_weeks("200607", 6))]
    import pyarrow as pa

    baskets = baskets_from_lines(pa.concat_tables(tables))
    return sandbox, pl.from_arrow(baskets)


def test_lda_recovers_planted_missions(generated):
    sandbox, baskets = generated
    model = fit_missions(
        baskets["PRODUCTS"].to_list(),
        baskets["QUANTITIES"].to_list(),
        k_grid=[4, 6, 8],
        max_iter=20,
        learning_method="batch",
    )
    assert model.k == 6  # held-out perplexity finds the planted number of missions
    missions, probability = model.assign(baskets["PRODUCTS"].to_list(), baskets["QUANTITIES"].to_list())
    truth = [sandbox.basket_missions[b] for b in baskets["BASKET_ID"]]
    scores = agreement(missions, truth)
    assert scores["nmi"] >= 0.8
    assert scores["random_nmi"] < 0.05
    assert probability.min() > 0


def test_vectorizer_is_fitted_once_and_ignores_unseen_products(tmp_path):
    vectorizer = BasketVectorizer(max_quantity=3).fit([["a", "b"], ["b", "c"]])
    matrix = vectorizer.transform([["a", "zzz"], ["c"]], [[5, 1], [1]]).toarray()
    assert vectorizer.products == ["a", "b", "c"]
    assert matrix.tolist() == [[3, 0, 0], [0, 0, 1]]  # quantity capped, unseen product ignored


def test_mission_model_round_trip_and_profiles(generated, tmp_path):
    _, baskets = generated
    model = fit_missions(baskets["PRODUCTS"].to_list(), baskets["QUANTITIES"].to_list(), k_grid=[6], max_iter=5)
    model.save(tmp_path)
    loaded = MissionModel.load(tmp_path)
    a, _ = model.assign(baskets["PRODUCTS"].to_list()[:50], baskets["QUANTITIES"].to_list()[:50])
    b, _ = loaded.assign(baskets["PRODUCTS"].to_list()[:50], baskets["QUANTITIES"].to_list()[:50])
    assert (a == b).all()
    scored = baskets.with_columns(
        pl.Series("MISSION", model.assign(baskets["PRODUCTS"].to_list(), baskets["QUANTITIES"].to_list())[0])
    )
    profiles = mission_profiles(scored)
    # Index 100 = average: the basket-weighted mean index of every attribute value is exactly 100.
    sizes = scored.group_by("MISSION").len()
    check = (
        profiles.join(sizes, on="MISSION")
        .group_by("ATTRIBUTE", "VALUE")
        .agg(((pl.col("INDEX") * pl.col("len")).sum() / scored.height).alias("weighted"))
    )
    assert np.allclose(check["weighted"].to_numpy(), 100.0)
    assert model.top_products(5).height == 30


def test_customer_sequences_are_in_time_order_and_skip_anonymous(generated):
    _, baskets = generated
    sequences = pl.from_arrow(customer_sequences(baskets.to_arrow()))
    assert sequences["CUST_CODE"].null_count() == 0
    assert sequences["N_BASKETS"].sum() == baskets.filter(~pl.col("IS_ANONYMOUS")).height
    for dates in sequences["SHOP_DATES"].to_list()[:50]:
        assert dates == sorted(dates)


def test_ranking_metrics_by_hand():
    history = [[["a", "b"], ["a", "c"]]]
    target = [{"a", "x"}]  # "a" is a repeat item, "x" an explore item
    metrics = ranking_metrics([["x", "b", "a"]], target, history, k=2)
    assert metrics["all/recall@2"] == 0.5
    assert math.isclose(metrics["all/ndcg@2"], 1.0 / (1 + 1 / math.log2(3)))
    assert metrics["all/phr@2"] == 1.0
    assert metrics["repeat/recall@2"] == 0.0 and metrics["explore/recall@2"] == 1.0


# The baselines' figures on the `generated` fixture, computed by the dunnhumby-only metric code that
# foundation.ranking_metrics replaced (keys in sorted order: all/, explore/, repeat/ x customers, ndcg, phr, recall).
FIGURES_BEFORE_SHARED_METRICS = {
    "G-TopFreq": [
        223.0, 0.12533850089476936, 0.672645739910314, 0.1435067288881,
        218.0, 0.07161889163379888, 0.3623853211009174, 0.09383682890833457,
        173.0, 0.1471660920823144, 0.5260115606936416, 0.24311828184660556,
    ],
    "P-TopFreq": [
        223.0, 0.2208594748588525, 0.6547085201793722, 0.23762730038691807,
        218.0, 0.0, 0.0, 0.0,
        173.0, 0.43972557534148654, 0.8439306358381503, 0.6439246366992031,
    ],
    "GP-TopFreq": [
        223.0, 0.22251962463946928, 0.6636771300448431, 0.24069157542428724,
        218.0, 0.0017616149726689748, 0.01834862385321101, 0.0033766564729867483,
        173.0, 0.43972557534148654, 0.8439306358381503, 0.6439246366992031,
    ],
}  # fmt: skip


def test_baseline_figures_are_unchanged_by_the_shared_metrics(generated):
    _, baskets = generated
    sequences = customer_sequences(baskets.to_arrow())
    split = temporal_split(dict(zip(sequences["CUST_CODE"].to_pylist(), sequences["BASKETS"].to_pylist(), strict=True)))
    results = evaluate(split, 10)
    names = ("customers", "ndcg@10", "phr@10", "recall@10")
    keys = [f"{part}/{name}" for part in ("all", "explore", "repeat") for name in names]
    assert {method: list(metrics) for method, metrics in results.items()} == dict.fromkeys(results, keys)
    assert {method: list(metrics.values()) for method, metrics in results.items()} == FIGURES_BEFORE_SHARED_METRICS


def test_topfreq_baselines():
    histories = [[["a", "b"], ["a"], ["c"]], [["d"], ["d", "e"]]]
    assert personal_top(histories[0], 2) == ["a", "c"]  # ties broken by recency
    recs = baseline_recommendations(histories, 3)
    assert recs["G-TopFreq"][0] == ["a", "d", "b"]
    assert recs["P-TopFreq"][1] == ["d", "e"]
    assert recs["GP-TopFreq"][1] == ["d", "e", "a"]


@pytest.mark.slow
def test_tiny_next_basket_model_trains_evaluates_and_round_trips(generated, tmp_path):
    _, baskets = generated
    sequences = customer_sequences(baskets.to_arrow())
    split = temporal_split(dict(zip(sequences["CUST_CODE"].to_pylist(), sequences["BASKETS"].to_pylist(), strict=True)))
    config = NextBasketConfig.tiny()
    model = NextBasketModel.train(split.histories, config)
    results = evaluate(split, config.top_k, model)
    assert set(results) == {"G-TopFreq", "P-TopFreq", "GP-TopFreq", "BiLSTM-attention"}
    # Repeat buying is planted, so the personal baseline must beat global popularity on repeat items.
    assert results["P-TopFreq"]["repeat/recall@10"] > results["G-TopFreq"]["repeat/recall@10"]
    model.save(tmp_path)
    loaded = NextBasketModel.load(tmp_path)
    assert np.allclose(model.scores(split.histories[:8]), loaded.scores(split.histories[:8]), atol=1e-6)
    assert len(loaded.recommend(split.histories[:3], 10)[0]) == 10

    # The repeat-aware variant's extra layers survive a save/load round trip too.
    repeat = NextBasketModel.train(split.histories, replace(config, repeat_aware=True, epochs=1))
    assert repeat.name in evaluate(split, config.top_k, repeat)
    repeat.save(tmp_path / "repeat")
    loaded = NextBasketModel.load(tmp_path / "repeat")
    assert np.allclose(repeat.scores(split.histories[:8]), loaded.scores(split.histories[:8]), atol=1e-6)


def test_results_table_is_one_markdown_row_per_method():
    metrics = {f"{part}/{m}@2": 0.5 for part in ("all", "repeat", "explore") for m in ("recall", "ndcg", "phr")}
    lines = results_table({"G-TopFreq": metrics, "P-TopFreq": {}}, 2).splitlines()
    assert lines[0] == "| method | " + " | ".join(metrics) + " |"
    assert lines[1] == "|---" * 10 + "|"
    assert lines[2] == "| G-TopFreq | " + " | ".join(["0.5000"] * 9) + " |"
    assert lines[3] == "| P-TopFreq | " + " | ".join(["nan"] * 9) + " |"


def test_missions_do_not_depend_on_the_order_baskets_are_read_in(generated):
    """Delta returns a week's files in any order; the fitted missions must be the same either way."""
    from models.dunnhumby.mission_training import train_missions

    _, baskets = generated
    settings = {"k_grid": [4, 6], "max_iter": 5, "learning_method": "online", "fit_max_baskets": 500}
    first = train_missions(baskets, **settings)
    second = train_missions(baskets.sample(fraction=1.0, shuffle=True, seed=11), **settings)
    assert first.model.k == second.model.k
    columns = ["BASKET_ID", "MISSION", "MISSION_PROBABILITY"]
    assert first.scored.select(columns).equals(second.scored.select(columns))
