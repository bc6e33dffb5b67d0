"""The sneaker evaluation report: CNN, stacked CNN and baselines on the same held-out test rows."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from foundation.charts import heatmap_png, markdown_image
from foundation.markdown import markdown_table
from models.sneakers.dataset import fixed_price_bin, quantile_bin
from models.sneakers.stacking import (
    confusion,
    majority_probabilities,
    median_price_probabilities,
    scores,
    title_only_probabilities,
)

METRICS = ("accuracy", "macro_f1", "top3_accuracy")


def metrics_markdown(results: Mapping[str, Mapping[str, Mapping[str, float]]]) -> str:
    """results[head][method] = {"accuracy", "macro_f1", "top3_accuracy"} -> one markdown table."""
    methods = sorted({m for per_head in results.values() for m in per_head}, key=_method_order)
    rows = [
        [head, metric, *(f"{per_method[m][metric]:.3f}" if m in per_method else "–" for m in methods)]
        for head, per_method in results.items()
        for metric in METRICS
    ]
    return markdown_table(["head", "metric", *methods], rows)


def _method_order(method: str) -> tuple[int, str]:
    order = ["cnn", "stacked", "majority", "median_model_price", "title_only"]
    return (order.index(method) if method in order else len(order), method)


@dataclass
class Evaluation:
    results: dict[str, dict[str, dict[str, float]]]  # head -> method -> metric -> value
    confusion_images: list[str]  # one markdown image per head (CNN, rows true / columns predicted)
    test_rows: int

    def report(self, version: str) -> str:
        return (
            f"### Sneaker CNN {version}: held-out test split ({self.test_rows} listings)\n\n"
            f"{metrics_markdown(self.results)}\n\n" + "\n\n".join(self.confusion_images)
        )

    def cnn_beats_majority(self) -> dict[str, bool]:
        return {h: self.results[h]["cnn"]["accuracy"] > self.results[h]["majority"]["accuracy"] for h in self.results}


def evaluate(
    test_predictions: Sequence[Mapping[str, Any]],
    splits: Mapping[str, Mapping[str, Any]],
    vocabularies: Mapping[str, list[str]],
    edges: Sequence[float],
) -> Evaluation:
    """The CNN's and the stack's test predictions (rows of `sneaker_predictions`) next to the majority,
    title-only and, for the price heads, median-model-price baselines fit on the training split (`splits`:
    the `sneaker_splits` rows by listing id)."""
    train = [r for r in splits.values() if r["split"] == "train"]
    label_of: dict[str, Callable[[Mapping[str, Any]], int]] = {
        "price_bin": lambda r: fixed_price_bin(r["price"]),
        "price_quantile": lambda r: quantile_bin(r["price"], edges),
        "model": lambda r: vocabularies["model"].index(r["model"]),
        "brand": lambda r: vocabularies["brand"].index(r["brand"]),
    }
    to_bin = {"price_bin": fixed_price_bin, "price_quantile": lambda p: quantile_bin(p, edges)}
    results, images, y = {}, [], np.array([])
    for head in label_of:
        rows = sorted((r for r in test_predictions if r["head"] == head), key=lambda r: r["listing_id"])
        test = [splits[r["listing_id"]] for r in rows]
        n = len(vocabularies[head])
        y = np.array([vocabularies[head].index(r["true_class"]) for r in rows])
        y_train = np.array([label_of[head](r) for r in train])
        cnn_p = np.array([r["cnn_probabilities"] for r in rows])
        per_method = {
            "cnn": scores(y, cnn_p),
            "stacked": scores(y, np.array([r["stacked_probabilities"] for r in rows])),
            "majority": scores(y, majority_probabilities(y_train, len(y), n)),
            "title_only": scores(
                y, title_only_probabilities([r["title"] for r in train], y_train, [r["title"] for r in test], n)
            ),
        }
        if head in to_bin:
            per_method["median_model_price"] = scores(
                y,
                median_price_probabilities(
                    [r["model"] for r in train],
                    np.array([r["price"] for r in train]),
                    [r["model"] for r in test],
                    to_bin[head],
                    n,
                ),
            )
        results[head] = per_method
        heatmap = heatmap_png(confusion(y, cnn_p.argmax(1), n), vocabularies[head])
        images.append(markdown_image(heatmap, head, f"**{head}** (CNN, rows true / columns predicted)"))
    return Evaluation(results, images, len(y))
