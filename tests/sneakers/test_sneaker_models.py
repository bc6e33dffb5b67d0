"""Model pieces without data: the CNN's shape and save/load fidelity, and the out-of-fold stacking property."""

import numpy as np

from models.sneakers.stacking import (
    median_price_probabilities,
    meta_features,
    out_of_fold_probabilities,
    scores,
)


def test_out_of_fold_predictions_never_come_from_a_model_fit_on_the_row():
    """Features that identify each row (one-hot row ids) let an in-sample fit memorise the labels; out-of-fold
    predictions must then be no better than chance, and every fold's fit rows exclude the rows it predicts."""
    rng = np.random.default_rng(0)
    n, classes = 200, 4
    X = np.eye(n)
    y = rng.integers(0, classes, n)
    from sklearn.linear_model import LogisticRegression

    in_sample = LogisticRegression(C=100.0, max_iter=2000).fit(X, y).predict(X)
    assert np.mean(in_sample == y) > 0.95  # memorised
    oof = out_of_fold_probabilities(X, y, classes, lambda: LogisticRegression(C=100.0, max_iter=2000), folds=5)
    assert np.mean(oof.probabilities.argmax(1) == y) < 0.45  # chance is 0.25
    for fold, fit_rows in enumerate(oof.fitted_rows):
        predicted = np.flatnonzero(oof.fold_of_row == fold)
        assert len(predicted) and not set(predicted) & set(fit_rows)
    assert (oof.fold_of_row >= 0).all()


def test_model_and_brand_meta_features_never_include_title_labels():
    cnn = {
        "brand": np.full((3, 6), 1 / 6),
        "model": np.full((3, 25), 1 / 25),
        "price_bin": np.full((3, 10), 0.1),
        "price_quantile": np.full((3, 10), 0.1),
    }
    title_model, title_brand = np.eye(25)[[0, 1, 2]], np.eye(6)[[0, 1, 2]]
    assert meta_features("model", cnn, title_model, title_brand).shape[1] == 51
    assert meta_features("brand", cnn, title_model, title_brand).shape[1] == 51
    assert meta_features("price_bin", cnn, title_model, title_brand).shape[1] == 51 + 31


def test_median_model_price_baseline_predicts_the_median_bin():
    probs = median_price_probabilities(
        ["A", "A", "A", "B"],
        np.array([50.0, 150.0, 160.0, 950.0]),
        ["A", "B", "C"],
        lambda p: min(int(p // 100), 9),
        10,
    )
    assert probs.argmax(1).tolist() == [1, 9, 1]  # unknown model C falls back to the overall median (155)
    assert scores(np.array([1, 9, 1]), probs)["accuracy"] == 1.0


def test_tiny_cnn_has_four_softmax_heads_and_reloads_exactly(tmp_path):
    from models.sneakers.cnn import TINY, build_model, load, save

    model = build_model(TINY, {"price_bin": 10, "price_quantile": 10, "model": 25, "brand": 6})
    x = np.random.default_rng(1).random((4, TINY.input_size, TINY.input_size, 3), dtype=np.float32)
    before = model.predict(x, verbose=0)
    assert {k: v.shape for k, v in before.items()} == {
        "price_bin": (4, 10),
        "price_quantile": (4, 10),
        "model": (4, 25),
        "brand": (4, 6),
    }
    np.testing.assert_allclose(before["model"].sum(1), 1.0, rtol=1e-5)
    save(model, tmp_path, TINY, {"vocabularies": {}})
    loaded, config, _ = load(tmp_path)
    assert config == TINY
    after = loaded.predict(x, verbose=0)
    for head in before:
        np.testing.assert_array_equal(before[head], after[head])


def _listings(n: int, seed: int, split: str) -> list[dict]:
    """Listings whose price is set by the sneaker model (as on GOAT): model m costs about 40 * m + 30. The titles
    carry no model name here, so only the (title-parsed) `model` column knows it."""
    rng = np.random.default_rng(seed)
    models = rng.integers(0, 24, n)
    return [
        {
            "listing_id": f"{split}-{i}",
            "split": split,
            "title": f"Sneaker edition {rng.integers(0, 1000)}",
            "model": f"M{m}",
            "brand": "NIKE" if m < 12 else "ADIDAS",
            "price": float(40 * m + 30 + rng.normal(0, 8)),
        }
        for i, m in enumerate(models)
    ]


def _vocabularies() -> dict[str, list[str]]:
    from models.sneakers.dataset import FIXED_PRICE_LABELS

    return {
        "model": [f"M{i}" for i in range(24)],
        "brand": ["ADIDAS", "NIKE"],
        "price_bin": list(FIXED_PRICE_LABELS),
        "price_quantile": [str(i) for i in range(10)],
    }


def test_the_price_stack_knows_the_model_prices_and_a_winning_baseline_is_the_served_champion():
    """With an uninformative CNN, the stack beats the median-price baseline only through the training split's
    per-model prices; a baseline that wins validation is the champion, served, with test intervals."""
    from models.sneakers.champions import (
        Baselines,
        compare_head,
        per_listing_accuracy,
        served_probabilities,
        validation_champions,
    )
    from models.sneakers.stacking import fit_stack

    vocabularies = _vocabularies()
    train, validation = _listings(600, 0, "train"), _listings(120, 1, "validation")
    baselines = Baselines.fit(train + validation, vocabularies, [float(e) for e in range(100, 1000, 100)])
    sizes = {h: len(v) for h, v in vocabularies.items()}
    cnn = {h: np.full((len(validation), n), 1.0 / n) for h, n in sizes.items()}  # knows nothing
    labels = {h: np.array([baselines.label(h, r) for r in validation]) for h in ("price_bin", "model", "brand")}
    labels["price_quantile"] = np.array([baselines.label("price_quantile", r) for r in validation])
    median = baselines.probabilities("price_bin", validation)["median_model_price"]
    median_accuracy = np.mean(median.argmax(1) == labels["price_bin"])

    without, _ = fit_stack(cnn, labels, ["price_bin"])
    with_prices, _ = fit_stack(cnn, labels, ["price_bin"], baselines.model_prices(sizes))
    assert np.mean(with_prices.oof["price_bin"].argmax(1) == labels["price_bin"]) >= median_accuracy - 0.02
    assert np.mean(with_prices.oof["price_bin"].argmax(1) == labels["price_bin"]) > np.mean(
        without.oof["price_bin"].argmax(1) == labels["price_bin"]
    )

    # The CNN and a stack that knows nothing: the strongest baseline wins validation and is what is served.
    stacked = {"price_bin": cnn["price_bin"], "brand": cnn["brand"]}
    champions = validation_champions(["price_bin", "brand"], validation, cnn, stacked, labels, baselines)
    assert champions["price_bin"].champion == "median_model_price" and champions["price_bin"].champion_is_baseline
    assert champions["brand"].champion_is_baseline
    served = served_probabilities("median_model_price", "price_bin", validation, cnn["price_bin"], stacked, baselines)
    np.testing.assert_array_equal(served, median)

    test = _listings(80, 2, "test")
    y_test = np.array([baselines.label("price_bin", r) for r in test])
    flat = np.full((len(test), 10), 0.1)
    test_scores = per_listing_accuracy(
        y_test, {"cnn": flat, "stacked": flat} | baselines.probabilities("price_bin", test)
    )
    val_scores = per_listing_accuracy(
        labels["price_bin"],
        {"cnn": cnn["price_bin"], "stacked": cnn["price_bin"]} | baselines.probabilities("price_bin", validation),
    )
    comparison = compare_head(val_scores, test_scores)
    interval = comparison.test["median_model_price"]["accuracy"]
    assert comparison.champion == "median_model_price" and interval.low < interval.mean < interval.high
    assert comparison.to_json()["champion_is_baseline"]


def test_cnn_architecture_follows_the_hardware_unless_configured(monkeypatch):
    from foundation.hardware import FORCE_ENV
    from models.sneakers.training import CNNTrainingSettings

    monkeypatch.setenv(FORCE_ENV, "cpu")
    architecture, reason = CNNTrainingSettings().resolved()
    assert architecture == "tiny" and "no GPU" in reason
    monkeypatch.setenv(FORCE_ENV, "gpu")
    assert CNNTrainingSettings().resolved()[0] == "original"
    assert CNNTrainingSettings(architecture="tiny").resolved() == ("tiny", "preset 'tiny' set in config")
