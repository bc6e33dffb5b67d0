"""Stacked meta-models on out-of-fold CNN probabilities, and the baselines the CNN must beat.

A meta-model is only ever scored on predictions it was not fit on: `out_of_fold_probabilities` fits one
model per fold and predicts the held-out fold, so each row's stacked probability comes from a model that
never saw that row (the original project's published stacking score for the model head had leaked labels).
Features: the CNN's probabilities of every head (image-derived) and, for the price heads only, the
title-derived model and brand and what the "median price of the model" baseline knows (`ModelPrices`: each
model's price-bin distribution and median bin on the *training* split, looked up for the title's model and for
the CNN's predicted model); the model and brand heads never see title features (that would be the label).
The meta-models are fit on the validation split (a few hundred rows): without the training split's per-model
prices they cannot learn 25 models' price levels from so few rows, and the baseline beat them.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import f1_score, top_k_accuracy_score
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline

PRICE_HEADS = ("price_bin", "price_quantile")
META_MODELS_FILE = "meta_models.pkl"  # both saved next to the CNN they stack on (same model version)
OOF_FILE = "validation_oof.npz"


@dataclass
class ModelPrices:
    """Per price head, a (models x classes) matrix: row m is the "median price of the model" baseline's
    probabilities for sneaker model m (its training-split price-bin histogram, argmax at its median price's bin)."""

    by_model: dict[str, np.ndarray]

    @classmethod
    def fit(
        cls,
        models_train: Sequence[str],
        prices_train: np.ndarray,
        model_names: Sequence[str],
        to_bin: dict[str, Callable[[float], int]],
        sizes: dict[str, int],
    ) -> ModelPrices:
        """From the training split only (`models_train`, `prices_train`), for the model vocabulary `model_names`."""
        return cls(
            {
                head: median_price_probabilities(models_train, prices_train, model_names, bin_of, sizes[head])
                for head, bin_of in to_bin.items()
            }
        )

    def features(self, head: str, title_model: np.ndarray, cnn_model: np.ndarray) -> np.ndarray:
        """The baseline's prediction for the title's model, and its distribution and median bin under the CNN's
        predicted model (probability-weighted)."""
        table = self.by_model[head]
        median_bins = np.eye(table.shape[1])[table.argmax(1)]
        return np.hstack([title_model @ table, cnn_model @ table, cnn_model @ median_bins])


def meta_features(
    head: str,
    cnn_probabilities: dict[str, np.ndarray],
    title_model: np.ndarray,
    title_brand: np.ndarray,
    model_prices: ModelPrices | None = None,
) -> np.ndarray:
    """Inputs of the meta-model for `head` (one-hot title features only where they are not the label)."""
    parts = [cnn_probabilities[h] for h in sorted(cnn_probabilities)]
    if head in PRICE_HEADS:
        parts += [title_model, title_brand]
        if model_prices is not None:
            parts.append(model_prices.features(head, title_model, cnn_probabilities["model"]))
    return np.hstack(parts)


def make_meta_model(seed: int = 0) -> LogisticRegression:
    return LogisticRegression(C=1.0, max_iter=2000, random_state=seed)


@dataclass
class OutOfFold:
    probabilities: np.ndarray  # (rows, classes): row i predicted by the model of the fold that held i out
    fold_of_row: np.ndarray
    fitted_rows: list[np.ndarray]  # rows each fold's model was fit on


def out_of_fold_probabilities(
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    factory: Callable[[], object] = make_meta_model,
    folds: int = 5,
    seed: int = 0,
) -> OutOfFold:
    counts = np.bincount(y, minlength=n_classes)
    stratify = counts[counts > 0].min() >= folds
    splitter = (StratifiedKFold if stratify else KFold)(n_splits=folds, shuffle=True, random_state=seed)
    out = np.zeros((len(y), n_classes))
    fold_of_row = np.full(len(y), -1)
    fitted = []
    for fold, (fit_rows, held_out) in enumerate(splitter.split(X, y)):
        out[held_out] = _fit_predict(factory(), X[fit_rows], y[fit_rows], X[held_out], n_classes)
        fold_of_row[held_out] = fold
        fitted.append(fit_rows)
    return OutOfFold(out, fold_of_row, fitted)


def _fit_predict(model, X_fit: np.ndarray, y_fit: np.ndarray, X_new: np.ndarray, n_classes: int) -> np.ndarray:
    """Probabilities over all `n_classes` even when the fit rows lack some classes."""
    classes = np.unique(y_fit)
    out = np.zeros((len(X_new), n_classes))
    if len(classes) == 1:
        out[:, classes[0]] = 1.0
        return out
    model.fit(X_fit, y_fit)
    out[:, model.classes_] = model.predict_proba(X_new)
    return out


def fit_predict(
    X_fit: np.ndarray, y_fit: np.ndarray, X_new: np.ndarray, n_classes: int, seed: int = 0
) -> tuple[object, np.ndarray]:
    model = make_meta_model(seed)
    return model, _fit_predict(model, X_fit, y_fit, X_new, n_classes)


def title_features(labels: dict[str, np.ndarray], sizes: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Title-derived model and brand one-hots (the TFRecord's model/brand labels are parsed from titles)."""
    return np.eye(sizes["model"])[labels["model"]], np.eye(sizes["brand"])[labels["brand"]]


@dataclass
class Stack:
    """Per head: the meta-model fit on all validation rows, and the validation rows' out-of-fold probabilities
    (the meta-model never predicts the rows it was fit on)."""

    meta: dict[str, object]
    oof: dict[str, np.ndarray]
    model_prices: ModelPrices | None = None

    def files(self) -> dict[str, bytes]:
        out = io.BytesIO()
        np.savez(out, **self.oof)
        saved = {"meta": self.meta, "model_prices": self.model_prices}
        return {META_MODELS_FILE: pickle.dumps(saved), OOF_FILE: out.getvalue()}

    @classmethod
    def from_files(cls, read: Callable[[str], bytes]) -> Stack:
        saved = pickle.loads(read(META_MODELS_FILE))
        oof = dict(np.load(io.BytesIO(read(OOF_FILE))))
        if "meta" not in saved:  # versions stacked before the model prices: the per-head models alone
            return cls(saved, oof)
        return cls(saved["meta"], oof, saved["model_prices"])

    def probabilities(
        self, head: str, split: str, cnn_probabilities: dict[str, np.ndarray], labels: dict[str, np.ndarray]
    ) -> np.ndarray:
        """Stacked probabilities of one split's rows (out-of-fold ones for the validation split)."""
        if split == "validation":
            return self.oof[head]
        sizes = {h: p.shape[1] for h, p in cnn_probabilities.items()}
        title_model, title_brand = title_features(labels, sizes)
        stacked = np.zeros_like(cnn_probabilities[head])
        model = self.meta[head]
        stacked[:, model.classes_] = model.predict_proba(
            meta_features(head, cnn_probabilities, title_model, title_brand, self.model_prices)
        )
        return stacked


def fit_stack(
    probabilities: dict[str, np.ndarray],
    labels: dict[str, np.ndarray],
    heads: Sequence[str],
    model_prices: ModelPrices | None = None,
) -> tuple[Stack, dict[str, dict[str, float]]]:
    """Meta-models on the validation split's CNN probabilities (and the training split's `model_prices` for the
    price heads); with the out-of-fold accuracy of the stack next to the CNN's own, per head."""
    sizes = {h: p.shape[1] for h, p in probabilities.items()}
    title_model, title_brand = title_features(labels, sizes)
    meta, oof, oof_scores = {}, {}, {}
    for head in heads:
        X = meta_features(head, probabilities, title_model, title_brand, model_prices)
        folds = out_of_fold_probabilities(X, labels[head], sizes[head])
        oof[head] = folds.probabilities
        oof_scores[head] = {
            "stacked_oof": scores(labels[head], folds.probabilities)["accuracy"],
            "cnn": scores(labels[head], probabilities[head])["accuracy"],
        }
        meta[head], _ = fit_predict(X, labels[head], X[:1], sizes[head])  # final model: all validation rows
    return Stack(meta, oof, model_prices), oof_scores


# -- baselines -------------------------------------------------------------------------------------


def majority_probabilities(y_train: np.ndarray, n_rows: int, n_classes: int) -> np.ndarray:
    """Class frequencies of the training split for every row (argmax: the majority class)."""
    freq = np.bincount(y_train, minlength=n_classes).astype(float)
    return np.tile(freq / freq.sum(), (n_rows, 1))


def title_only_probabilities(
    titles_train: Sequence[str], y_train: np.ndarray, titles_new: Sequence[str], n_classes: int
) -> np.ndarray:
    """Character n-gram TF-IDF + a linear log-loss classifier (SGD: seconds, not minutes) on the title alone."""
    model = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=1, sublinear_tf=True),
        SGDClassifier(loss="log_loss", alpha=1e-5, max_iter=30, tol=None, random_state=0),
    )
    return _fit_predict(
        model, np.asarray(titles_train, dtype=object), y_train, np.asarray(titles_new, dtype=object), n_classes
    )


def median_price_probabilities(
    models_train: Sequence[str],
    prices_train: np.ndarray,
    models_new: Sequence[str],
    to_bin: Callable[[float], int],
    n_classes: int,
) -> np.ndarray:
    """Predict the bin of the sneaker model's median training price (ties for top-3 by the model's price histogram)."""
    prices_train = np.asarray(prices_train, dtype=float)
    overall = float(np.median(prices_train))
    by_model: dict[str, np.ndarray] = {}
    for m in set(models_train):
        by_model[m] = prices_train[np.asarray(models_train) == m]
    out = np.zeros((len(models_new), n_classes))
    for i, m in enumerate(models_new):
        prices = by_model.get(m, prices_train)
        hist = np.bincount([to_bin(p) for p in prices], minlength=n_classes).astype(float)
        hist /= hist.sum()
        median_bin = to_bin(float(np.median(prices)) if len(prices) else overall)
        hist[median_bin] = hist.max() + 1.0  # the median's bin is the prediction
        out[i] = hist / hist.sum()
    return out


# -- metrics ------------------------------------------------------------------------------------------


def scores(y_true: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    n_classes = probabilities.shape[1]
    y_pred = probabilities.argmax(axis=1)
    labels = np.arange(n_classes)
    top3 = (
        top_k_accuracy_score(y_true, probabilities, k=min(3, n_classes), labels=labels) if len(y_true) else float("nan")
    )
    present = np.union1d(np.unique(y_true), np.unique(y_pred))
    return {
        "accuracy": float(np.mean(y_pred == y_true)) if len(y_true) else float("nan"),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "top3_accuracy": float(top3),
    }


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    matrix = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix
