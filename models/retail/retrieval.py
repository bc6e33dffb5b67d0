"""Training the two-tower model and choosing the served champion among it and strong simple baselines: what
`two_tower_model` runs.

Every candidate ranks the full catalogue for each held-out purchase (`single_target_per_query` over `TOP_K`):
most-popular, last-item transition and co-occurrence counts from the training examples, then the two-tower
model trained on the same examples. All are scored on the validation split, and the best by validation
NDCG@10 is the champion, the model the shop serves, baselines included (`foundation.model_selection`). Test
metrics are computed once for every candidate, with bootstrap 95% intervals over held-out purchases (one per
customer entity per split, so this resamples customers). `RetrievalRun.save` writes the two-tower index, the
baselines' counts and a `report.json` naming the champion. Keras is loaded only when a model is trained, so
importing this module stays cheap.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from foundation.charts import bar_chart_png, markdown_image
from foundation.markdown import markdown_table
from foundation.model_selection import Comparison, compare_candidates
from foundation.ranking_metrics import rank_top_k, single_target_per_query
from models.retail.config import TwoTowerConfig
from models.retail.sequences import BASELINES, TOP_K, Catalogue, CountBaselines
from models.retail.serving import BASELINES_FILE

if TYPE_CHECKING:
    from models.retail.two_tower import CatalogueFeatures

MODEL = "two_tower"
CANDIDATES = (*BASELINES, MODEL)  # baselines first: a validation tie goes to the simpler model
SELECTION_METRIC = "ndcg@10"
METRICS = {"HitRate@10": "hit_rate@10", "NDCG@10": "ndcg@10", "MRR@10": "mrr@10"}


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


def per_query(scores: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Per held-out purchase: full-catalogue ranking metrics of `scores` [queries, items] against label
    positions (tie-fair top-k: ties by lower catalogue position)."""
    return single_target_per_query(rank_top_k(np.asarray(scores), TOP_K), labels)


def baseline_per_query(
    baselines: CountBaselines, splits: Mapping[str, Mapping[str, np.ndarray]]
) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """candidate -> split -> metric -> per-query values, for the count baselines."""
    out: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for name in BASELINES:
        out[name] = {}
        for split, arrays in splits.items():
            labels = baselines.catalogue.positions(arrays["label_item_id"][:, 0])
            out[name][split] = per_query(baselines.scores(name, arrays["context_item_id"]), labels)
    return out


def comparison_markdown(comparison: Comparison) -> str:
    """Validation score, test metrics with 95% intervals, the champion and its margin over the strongest baseline."""
    metrics = list(METRICS.values())
    table = markdown_table(comparison.table_header(metrics), comparison.table_rows(metrics))
    served = f"**Served: {comparison.champion}**" + (" (a baseline)" if comparison.champion_is_baseline else "")
    margin = (
        f"; test {comparison.metric} minus the strongest baseline ({comparison.best_baseline}): "
        f"{comparison.champion_vs_best_baseline} (paired bootstrap)"
        if comparison.champion_vs_best_baseline
        else ""
    )
    return f"{served}, chosen by validation {comparison.metric}{margin}.\n\n{table}"


@dataclass
class RetrievalRun:
    """A trained index, the fitted baselines and the champion comparison."""

    query_tower: Any
    embeddings: np.ndarray
    features: CatalogueFeatures
    config: TwoTowerConfig
    baselines: CountBaselines
    comparison: Comparison
    history: dict[str, list[float]]
    train_seconds: float
    examples: dict[str, int]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def champion(self) -> str:
        return self.comparison.champion

    @property
    def catalogue_items(self) -> int:
        return len(self.features.item_ids)

    @property
    def results(self) -> dict[str, dict[str, float]]:
        """Test means per candidate (the figures reported before validation existed, same keys)."""
        return {
            name: {m: round(i.mean, 4) for m, i in metrics.items()} | {"examples": self.examples["test"]}
            for name, metrics in self.comparison.test.items()
        }

    def report(self) -> dict[str, Any]:
        return {
            "champion": self.champion,
            "champion_is_baseline": self.comparison.champion_is_baseline,
            "results": self.results,
            "comparison": self.comparison.to_json(),
            "history": self.history,
            "examples": self.examples,
            "catalogue_items": self.catalogue_items,
            "train_seconds": round(self.train_seconds, 2),
        }

    def save(self, directory: Path) -> Path:
        """The index (`query_tower.keras`, `candidates.npz`, `catalogue.json`), the baselines' counts
        (`baselines.npz`) and `report.json`, whose `champion` says which of them serving uses."""
        from models.retail.two_tower import save_index

        save_index(directory, self.query_tower, self.embeddings, self.features, self.config, self.report())
        self.baselines.save(directory / BASELINES_FILE)
        return directory

    def summary(self) -> dict[str, Any]:
        """The headline figures: champion, the model's and the strongest baseline's test scores, training time."""
        c = self.comparison
        versus = c.champion_vs_best_baseline
        best = c.best_baseline or BASELINES[0]
        return {
            "champion": c.champion,
            "champion_is_baseline": c.champion_is_baseline,
            "champion_validation_ndcg@10": round(c.validation[c.champion][SELECTION_METRIC].mean, 4),
            "two_tower_validation_ndcg@10": round(c.validation[MODEL][SELECTION_METRIC].mean, 4),
            "two_tower_hit_rate@10": round(c.test[MODEL]["hit_rate@10"].mean, 4),
            "two_tower_ndcg@10": round(c.test[MODEL]["ndcg@10"].mean, 4),
            "strongest_baseline": best,
            "best_baseline_hit_rate@10": round(c.test[best]["hit_rate@10"].mean, 4),
            "best_baseline_ndcg@10": round(c.test[best]["ndcg@10"].mean, 4),
            "champion_minus_best_baseline_ndcg@10_low": round(versus.low, 4) if versus else 0.0,
            "champion_minus_best_baseline_ndcg@10_high": round(versus.high, 4) if versus else 0.0,
            "final_loss": self.history["loss"][-1],
            "train_seconds": round(self.train_seconds, 2),
            **{f"{split}_examples": n for split, n in self.examples.items()},
        }

    def evaluation_markdown(self) -> str:
        n = self.examples
        return (
            comparison_markdown(self.comparison)
            + f"\n\nfull-catalogue ranking over {self.catalogue_items} items; {n['validation']} validation and "
            f"{n['test']} test purchases (one per customer entity), 95% intervals from 1,000 bootstrap resamples"
        )

    def ndcg_chart(self) -> str:
        title = "test NDCG@10 (champion chosen on validation)"
        return markdown_image(
            bar_chart_png({name: m[SELECTION_METRIC].mean for name, m in self.comparison.test.items()}, title),
            title,
            title,
        )


def train_and_evaluate(
    features: CatalogueFeatures,
    train_arrays: dict[str, np.ndarray],
    validation_arrays: dict[str, np.ndarray],
    test_arrays: dict[str, np.ndarray],
    config: TwoTowerConfig,
    callbacks: Sequence = (),
    settings: Mapping[str, Any] | None = None,
) -> RetrievalRun:
    """Fit the baselines and the two-tower model on the training examples, score every candidate on validation
    and test, and pick the champion on validation. `settings` (split protocol, preset reason, ...) are recorded."""
    from models.retail.two_tower import score_queries, train

    catalogue = Catalogue(features.item_ids)
    splits = {"validation": validation_arrays, "test": test_arrays}
    if any(len(a["label_item_id"]) == 0 for a in splits.values()):
        raise ValueError("the validation and test splits need examples: too few customers with 3+ purchases")
    baselines = CountBaselines.fit(train_arrays["context_item_id"], train_arrays["label_item_id"][:, 0], catalogue)
    scores = baseline_per_query(baselines, splits)
    started = time.perf_counter()
    query_tower, embeddings, history = train(train_arrays, features, config, callbacks=callbacks)
    train_seconds = time.perf_counter() - started
    scores[MODEL] = {
        split: per_query(
            score_queries(query_tower, embeddings, arrays), catalogue.positions(arrays["label_item_id"][:, 0])
        )
        for split, arrays in splits.items()
    }
    recorded = {"config": asdict(config), **(settings or {})}
    comparison = compare_candidates(
        {name: scores[name] for name in CANDIDATES}, SELECTION_METRIC, baselines=BASELINES, settings=recorded
    )
    return RetrievalRun(
        query_tower=query_tower,
        embeddings=embeddings,
        features=features,
        config=config,
        baselines=baselines,
        comparison=comparison,
        history=history,
        train_seconds=train_seconds,
        examples={
            "train": len(train_arrays["label_item_id"]),
            "validation": len(validation_arrays["label_item_id"]),
            "test": len(test_arrays["label_item_id"]),
        },
        settings=recorded,
    )
