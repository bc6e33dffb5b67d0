"""The sneaker evaluation report: CNN, stacked CNN and baselines on the same rows; each head's champion chosen on
validation, every candidate's test accuracy with a bootstrap interval over listings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from foundation.charts import heatmap_png, markdown_image
from foundation.markdown import markdown_table
from foundation.model_selection import Comparison
from models.sneakers.champions import (
    SELECTION_METRIC,
    Baselines,
    candidate_probabilities,
    compare_head,
    per_listing_accuracy,
)
from models.sneakers.stacking import confusion, scores

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
    results: dict[str, dict[str, dict[str, float]]]  # head -> method -> metric -> value (test split)
    confusion_images: list[str]  # one markdown image per head (CNN, rows true / columns predicted)
    test_rows: int
    comparisons: dict[str, Comparison] = field(default_factory=dict)  # head -> champion on validation, test CIs

    def report(self, version: str) -> str:
        return (
            f"### Sneaker CNN {version}: held-out test split ({self.test_rows} listings)\n\n"
            f"{metrics_markdown(self.results)}\n\n{self.champions_markdown()}\n\n" + "\n\n".join(self.confusion_images)
        )

    def champions_markdown(self) -> str:
        """Per head: every candidate's validation accuracy and test accuracy with its 95% bootstrap interval over
        listings, the champion (which the pipeline serves, baseline or not) first."""
        parts = []
        for head, comparison in self.comparisons.items():
            served = comparison.champion + (" (a baseline)" if comparison.champion_is_baseline else "")
            parts.append(
                f"**{head}**: serves {served}\n\n"
                + markdown_table(comparison.table_header([SELECTION_METRIC]), comparison.table_rows([SELECTION_METRIC]))
            )
        return "\n\n".join(parts)

    def champions(self) -> dict[str, dict[str, Any]]:
        """head -> champion, runner-up, strongest baseline and the champion-minus-baseline test interval."""
        return {head: c.to_json() for head, c in self.comparisons.items()}

    def cnn_beats_majority(self) -> dict[str, bool]:
        return {h: self.results[h]["cnn"]["accuracy"] > self.results[h]["majority"]["accuracy"] for h in self.results}


def evaluate(
    predictions: Sequence[Mapping[str, Any]],
    splits: Mapping[str, Mapping[str, Any]],
    vocabularies: Mapping[str, list[str]],
    edges: Sequence[float],
) -> Evaluation:
    """The CNN's and the stack's predictions (rows of `sneaker_predictions`; the validation and test splits are
    used) next to the majority, title-only and, for the price heads, median-model-price baselines fit on the
    training split (`splits`: the `sneaker_splits` rows by listing id). Every candidate is scored on validation
    (the stack out-of-fold) to pick each head's champion, then once on test, with bootstrap intervals."""
    baselines = Baselines.fit(list(splits.values()), vocabularies, edges)
    results, images, comparisons, n_test = {}, [], {}, 0
    for head in vocabularies:
        per_split: dict[str, dict[str, np.ndarray]] = {}
        y = np.array([])
        for split in ("validation", "test"):
            rows = sorted(
                (r for r in predictions if r["head"] == head and r["split"] == split), key=lambda r: r["listing_id"]
            )
            y = np.array([vocabularies[head].index(r["true_class"]) for r in rows], dtype=int)
            probabilities = candidate_probabilities(
                head,
                [splits[r["listing_id"]] for r in rows],
                np.array([r["cnn_probabilities"] for r in rows]).reshape(len(rows), -1),
                np.array([r["stacked_probabilities"] for r in rows]).reshape(len(rows), -1),
                baselines,
            )
            per_split[split] = per_listing_accuracy(y, probabilities)
            if split == "test":
                results[head] = {c: scores(y, p) for c, p in probabilities.items()}
                heatmap = heatmap_png(
                    confusion(y, probabilities["cnn"].argmax(1), len(vocabularies[head])), vocabularies[head]
                )
                images.append(markdown_image(heatmap, head, f"**{head}** (CNN, rows true / columns predicted)"))
                n_test = len(y)
        if not len(per_split["validation"]["cnn"]) or not n_test:
            raise ValueError(f"{head}: the validation and test splits need predictions to compare candidates")
        comparisons[head] = compare_head(per_split["validation"], per_split["test"])
    return Evaluation(results, images, n_test, comparisons)
