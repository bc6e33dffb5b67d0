"""Each recommender fitted on a tag's training split and ranked over the full catalogue, with its report:
`make_recommender(name, ...)` gives an unfitted model, `train_and_evaluate(model, split, name, tag, folder)`
fits, evaluates and writes `metrics.json` (and the saved model) into a model-store draft folder.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from foundation.progress import Progress, keras_progress
from foundation.ranking_metrics import evaluate_per_user
from models.amazon.recommenders import (
    EASERecommender,
    ItemKNNRecommender,
    MostPopularRecommender,
    RandomRecommender,
    Recommender,
    Split,
)

MODEL_NAMES = ("random", "popular", "item_knn", "ease", "autoencoder")
# The autoencoder's hidden width per preset (`foundation.hardware.choose_preset`; measured in docs/amazon.md): the only
# model here whose training time grows with a size setting.
AUTOENCODER_PRESETS = {"small": 200, "full": 600}
CPU_PRESET, GPU_PRESET = "small", "full"
REPORTED_METRICS = ("recall@10", "recall@50", "ndcg@10", "ndcg@50", "map@10", "hit_rate@10", "mrr", "coverage@10")


def make_recommender(
    name: str,
    *,
    knn_neighbours: int = 100,
    ease_l2: float = 200.0,
    autoencoder_hidden: int = 200,
    autoencoder_epochs: int = 0,
    autoencoder_dropout: float = 0.5,
    seed: int = 0,
    log: Any = None,
) -> Recommender:
    """An unfitted recommender by name; the autoencoder logs each epoch to `log`. `autoencoder_epochs=0` scales the
    epochs with the data (models/amazon/autoencoder.py `epochs_for`)."""
    if name == "random":
        return RandomRecommender(seed)
    if name == "popular":
        return MostPopularRecommender()
    if name == "item_knn":
        return ItemKNNRecommender(knn_neighbours)
    if name == "ease":
        return EASERecommender(ease_l2)
    if name == "autoencoder":
        from models.amazon.autoencoder import AutoencoderConfig, AutoencoderRecommender

        config = AutoencoderConfig(
            hidden=autoencoder_hidden, epochs=autoencoder_epochs or None, dropout=autoencoder_dropout, seed=seed
        )
        progress = keras_progress(log, "autoencoder", batch_size=config.batch_size)
        return AutoencoderRecommender(config, callbacks=[progress])
    raise ValueError(f"unknown model {name!r}; known: {MODEL_NAMES}")


PER_USER_FILE = "per_user.npz"  # per-user validation and test metrics, for the comparison's bootstrap
PER_USER_METRICS = ("ndcg@10", "recall@10", "hit_rate@10", "map@10")


def _fit_and_score(model: Recommender, split: Split, name: str, what: str, log: Any) -> tuple[dict, dict, float]:
    interactions = int(split.train.matrix.nnz)
    started = time.perf_counter()
    with Progress(log, f"{name}: {what} training interactions fitted", interactions) as fitting:
        model.fit(split.train)
        fitting.advance(interactions)
    fitted = time.perf_counter()
    with Progress(log, f"{name}: {what} users ranked over the full catalogue", len(split.test)) as ranking:
        metrics, per_user = evaluate_per_user(model, split.train.matrix, split.test)
        ranking.advance(len(split.test))
    return metrics, per_user, fitted - started


def train_and_evaluate(
    model: Recommender,
    split: Split,
    name: str,
    tag: str,
    folder: Path,
    log: Any = None,
    validation_model: Recommender | None = None,
) -> dict[str, Any]:
    """Fit `validation_model` (a fresh copy of `model`) on the validation split's training part and score its
    held-out users, then fit `model` on the training split and rank every test user over the full catalogue;
    write `metrics.json`, the per-user scores (`per_user.npz`) and the saved model, for models that save one,
    into `folder`; returns the report."""
    per_user_parts: dict[str, np.ndarray] = {}
    validation_metrics = None
    if validation_model is not None and split.validation is not None:
        validation_metrics, per_user, _ = _fit_and_score(validation_model, split.validation, name, "validation", log)
        per_user_parts |= {f"validation/{m}": per_user[m] for m in PER_USER_METRICS}
    metrics, per_user, fit_seconds = _fit_and_score(model, split, name, "test", log)
    fitted = time.perf_counter()
    per_user_parts |= {f"test/{m}": per_user[m] for m in PER_USER_METRICS}
    np.savez(Path(folder) / PER_USER_FILE, **per_user_parts)
    report = {
        "model": name,
        "tag": tag,
        "metrics": metrics,
        "validation_metrics": validation_metrics,
        "fit_seconds": fit_seconds,
        "eval_seconds": time.perf_counter() - fitted,
        "users": int(split.train.matrix.shape[0]),
        "items": int(split.train.n_items),
        "train_interactions": int(split.train.matrix.nnz),
        "test_users": len(split.test),
        "tied_share": round(split.tied_share, 4),
        # What the numbers depend on besides the data: the comparison refuses reports whose split settings differ.
        "settings": model.settings(),
        "split_settings": split_settings(split),
    }
    if hasattr(model, "save"):
        report["artifact"] = Path(model.save(folder)).name  # relative to the model version's folder
    (Path(folder) / "metrics.json").write_text(json.dumps(report, indent=2))
    return report


def split_settings(split: Split) -> dict[str, Any]:
    """The split protocol of a report: reports are comparable only when these agree."""
    return {
        "protocol": split.protocol,
        "cut": split.cut,
        "validation_users": len(split.validation.test) if split.validation else 0,
        "tie_break_seed": split.seed,
        "min_rating": split.min_rating,
        "users": int(split.train.matrix.shape[0]),
        "items": int(split.train.n_items),
        "train_interactions": int(split.train.matrix.nnz),
        "test_users": len(split.test),
    }


def headline_metrics(report: dict[str, Any]) -> dict[str, float]:
    """The reported metrics of one report, rounded for display."""
    return {k: round(v, 4) for k, v in report["metrics"].items() if k in REPORTED_METRICS}
