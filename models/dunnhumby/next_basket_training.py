"""The next-basket model end to end: split the customers' basket sequences, train, evaluate next to the
TopFreq baselines on the same split, save, and summarise (the `dunnhumby_next_basket_model` asset calls
these and publishes the saved folder in the model store)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from foundation.charts import bar_chart_png
from models.dunnhumby.next_basket import (
    NextBasketConfig,
    NextBasketModel,
    Split,
    evaluate,
    results_table,
    temporal_split,
)

REPORT_FILE = "report.json"


def split_sequences(sequences: pa.Table, min_baskets: int) -> Split:
    """The temporal split of `dunnhumby_customer_basket_sequences` rows (CUST_CODE, BASKETS)."""
    by_customer = dict(zip(sequences["CUST_CODE"].to_pylist(), sequences["BASKETS"].to_pylist(), strict=True))
    return temporal_split(by_customer, min_baskets)


@dataclass
class NextBasketRun:
    """A trained model and its results next to the baselines on the same split."""

    config: NextBasketConfig
    split: Split
    model: NextBasketModel
    results: dict[str, dict[str, float]]

    def report(self) -> dict[str, Any]:
        return {"config": self.config.__dict__, "test_customers": len(self.split.customers), "results": self.results}

    def save(self, folder: Path) -> None:
        """The Keras model, its dictionary and config, and `report.json`."""
        self.model.save(folder)
        (folder / REPORT_FILE).write_text(json.dumps(self.report(), indent=2))

    def best_baseline(self) -> str:
        k = self.config.top_k
        return max((n for n in self.results if n != self.model.name), key=lambda n: self.results[n][f"all/ndcg@{k}"])

    def summary(self) -> dict[str, Any]:
        """Plain values for the model asset's metadata: the model's metrics and the best baseline's NDCG."""
        k = self.config.top_k
        metrics = self.results[self.model.name]
        best = self.best_baseline()
        return {
            "test_customers": len(self.split.customers),
            "catalogue_size": len(self.model.dictionary),
            "epochs": self.config.epochs,
            "final_loss": round(self.model.history["loss"][-1], 5),
            f"recall@{k}": round(metrics[f"all/recall@{k}"], 4),
            f"ndcg@{k}": round(metrics[f"all/ndcg@{k}"], 4),
            f"phr@{k}": round(metrics[f"all/phr@{k}"], 4),
            "best_baseline": best,
            f"best_baseline_ndcg@{k}": round(self.results[best][f"all/ndcg@{k}"], 4),
        }

    def results_markdown(self) -> str:
        return results_table(self.results, self.config.top_k)

    def recall_chart(self) -> bytes:
        k = self.config.top_k
        recall = {name: metrics[f"all/recall@{k}"] for name, metrics in self.results.items()}
        return bar_chart_png(recall, f"Recall@{k}, full catalogue")


def train_next_basket(split: Split, config: NextBasketConfig, callbacks: Sequence = ()) -> NextBasketRun:
    """Train on the histories only (never a test basket), then evaluate with the baselines."""
    model = NextBasketModel.train(split.histories, config, callbacks=callbacks)
    return NextBasketRun(config, split, model, evaluate(split, config.top_k, model))
