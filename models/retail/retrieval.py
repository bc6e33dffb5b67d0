"""Training and evaluating the two-tower model next to strong simple baselines: what `two_tower_model` runs.

Every method ranks the full catalogue for each held-out last purchase (`single_target_metrics` over
`TOP_K`): most-popular, last-item transition and co-occurrence counts from the training examples, then the
two-tower model trained on the same examples. `RetrievalRun` holds the trained index and the figures;
`save` writes the index (`two_tower.save_index`) with a `report.json` of them. Keras is loaded only when a
model is trained, so importing this module stays cheap.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from foundation.charts import bar_chart_png, markdown_image
from foundation.markdown import markdown_table
from foundation.ranking_metrics import single_target_metrics, top_k_by_partition
from models.retail.config import TwoTowerConfig
from models.retail.sequences import TOP_K, Catalogue, cooccurrence_scores, most_popular_scores, transition_scores

if TYPE_CHECKING:
    from models.retail.two_tower import CatalogueFeatures

MODEL = "two_tower"
METRICS = {"HitRate@10": "hit_rate@10", "Recall@10": "recall@10", "NDCG@10": "ndcg@10", "MRR@10": "mrr@10"}


def catalogue_features(catalogue: pd.DataFrame) -> CatalogueFeatures:
    """The model's catalogue inputs from `retail_catalogue` rows."""
    from models.retail.two_tower import CatalogueFeatures

    return CatalogueFeatures(
        item_ids=catalogue["item_id"].to_numpy(np.int64),
        department_ids=catalogue["department_id"].to_numpy(np.int64),
        brand_codes=catalogue["brand_code"].astype(str).to_numpy(object),
        prices=catalogue["full_price"].to_numpy(np.float32),
        descriptions=catalogue["description"].to_numpy(object),
    )


def ranked(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Full-catalogue ranking metrics of `scores` [queries, items] against label positions."""
    return single_target_metrics(top_k_by_partition(np.asarray(scores), TOP_K), labels, digits=4)


def baseline_results(
    train_arrays: Mapping[str, np.ndarray], test_arrays: Mapping[str, np.ndarray], catalogue: Catalogue
) -> dict[str, dict[str, float]]:
    """Most-popular, last-item transition and co-occurrence, each ranking the full catalogue."""
    labels = catalogue.positions(test_arrays["label_item_id"][:, 0])
    train_labels = train_arrays["label_item_id"][:, 0]
    train_context, test_context = train_arrays["context_item_id"], test_arrays["context_item_id"]
    return {
        "most_popular": ranked(most_popular_scores(train_labels, catalogue, len(labels)), labels),
        "last_item_transition": ranked(transition_scores(train_context, train_labels, test_context, catalogue), labels),
        "item_cooccurrence": ranked(cooccurrence_scores(train_context, train_labels, test_context, catalogue), labels),
    }


def evaluation_table(results: Mapping[str, Mapping[str, float]], ratio_to: str | None = None) -> str:
    """Markdown table of each method's metrics; with `ratio_to`, also its NDCG@10 relative to that method."""
    header = ["method", *METRICS]
    if ratio_to:
        header.append(f"NDCG ratio vs {ratio_to.replace('_', '-')}")
    rows = []
    for name, m in results.items():
        row = [name, *(f"{m[key]:.4f}" for key in METRICS.values())]
        if ratio_to:
            row.append(f"{m['ndcg@10'] / results[ratio_to]['ndcg@10']:.2f}")
        rows.append(row)
    return markdown_table(header, rows)


@dataclass
class RetrievalRun:
    """A trained index and its evaluation next to the baselines."""

    query_tower: Any
    embeddings: np.ndarray
    features: CatalogueFeatures
    config: TwoTowerConfig
    results: dict[str, dict[str, float]]
    history: dict[str, list[float]]
    train_seconds: float
    train_examples: int
    test_examples: int

    @property
    def catalogue_items(self) -> int:
        return len(self.features.item_ids)

    def report(self) -> dict[str, Any]:
        return {
            "results": self.results,
            "history": self.history,
            "train_examples": self.train_examples,
            "test_examples": self.test_examples,
            "catalogue_items": self.catalogue_items,
            "train_seconds": round(self.train_seconds, 2),
        }

    def save(self, directory: Path) -> Path:
        """The index (`query_tower.keras`, `candidates.npz`, `catalogue.json`) and `report.json`."""
        from models.retail.two_tower import save_index

        return save_index(directory, self.query_tower, self.embeddings, self.features, self.config, self.report())

    def summary(self) -> dict[str, float | int]:
        """The headline figures: the model's, the best baseline's, training loss, time and sizes."""
        return {
            "two_tower_hit_rate@10": self.results[MODEL]["hit_rate@10"],
            "two_tower_ndcg@10": self.results[MODEL]["ndcg@10"],
            "best_baseline_hit_rate@10": max(m["hit_rate@10"] for k, m in self.results.items() if k != MODEL),
            "final_loss": self.history["loss"][-1],
            "train_seconds": round(self.train_seconds, 2),
            "train_examples": self.train_examples,
            "test_examples": self.test_examples,
        }

    def evaluation_markdown(self) -> str:
        return (
            evaluation_table(self.results)
            + f"\n\nfull-catalogue ranking over {self.catalogue_items} items, {self.test_examples} test examples"
        )

    def hit_rate_chart(self) -> str:
        return markdown_image(
            bar_chart_png({name: m["hit_rate@10"] for name, m in self.results.items()}),
            "hit_rate@10",
            "hit_rate@10 on the held-out last purchases",
        )


def train_and_evaluate(
    features: CatalogueFeatures,
    train_arrays: dict[str, np.ndarray],
    test_arrays: dict[str, np.ndarray],
    config: TwoTowerConfig,
    callbacks: Sequence = (),
) -> RetrievalRun:
    """Score the baselines, train the two-tower model on the training examples and score it the same way."""
    from models.retail.two_tower import score_queries, train

    catalogue = Catalogue(features.item_ids)
    labels = catalogue.positions(test_arrays["label_item_id"][:, 0])
    results = baseline_results(train_arrays, test_arrays, catalogue)
    started = time.perf_counter()
    query_tower, embeddings, history = train(train_arrays, features, config, callbacks=callbacks)
    train_seconds = time.perf_counter() - started
    results[MODEL] = ranked(score_queries(query_tower, embeddings, test_arrays), labels)
    return RetrievalRun(
        query_tower=query_tower,
        embeddings=embeddings,
        features=features,
        config=config,
        results=results,
        history=history,
        train_seconds=train_seconds,
        train_examples=len(train_arrays["label_item_id"]),
        test_examples=len(labels),
    )
