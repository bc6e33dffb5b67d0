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
