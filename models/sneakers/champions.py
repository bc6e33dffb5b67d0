"""Every candidate predictor of a sneaker head, and the champion each head serves.

Candidates: the CNN, its stack, and three baselines fit on the training split alone (majority class, title-only
TF-IDF classifier, median price of the title's model for the price heads). The champion of a head is the
candidate with the best validation accuracy (`foundation.model_selection`: ties go to the earlier, simpler
candidate); it may be a baseline, and then the pipeline serves the baseline's class for that head. The stack's
validation scores are its out-of-fold ones, so it is never scored on rows it was fit on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from foundation.model_selection import Comparison, compare_candidates
from models.sneakers.dataset import fixed_price_bin, quantile_bin
from models.sneakers.stacking import (
    PRICE_HEADS,
    ModelPrices,
    majority_probabilities,
    median_price_probabilities,
    title_only_probabilities,
)

BASELINES = ("majority", "median_model_price", "title_only")
LEARNED = ("cnn", "stacked")
CHAMPIONS_FILE = "champions.json"
BASELINES_FILE = "baselines.json"
SELECTION_METRIC = "accuracy"


def candidates_of(head: str) -> tuple[str, ...]:
    """Baselines first: a tie on validation goes to the simpler candidate."""
    return tuple(b for b in BASELINES if head in PRICE_HEADS or b != "median_model_price") + LEARNED


@dataclass
class Baselines:
    """The training split's listings (title, model name, price) and the label maps: all the baselines need."""

    train_rows: list[dict[str, Any]]
    vocabularies: dict[str, list[str]]
    edges: list[float]

    @classmethod
    def fit(
        cls, split_rows: Sequence[Mapping[str, Any]], vocabularies: Mapping[str, list[str]], edges: Sequence[float]
    ) -> Baselines:
        train = [
            {"title": r["title"], "model": r["model"], "brand": r["brand"], "price": float(r["price"])}
            for r in split_rows
            if r["split"] == "train"
        ]
        if not train:
            raise ValueError("no training-split listings: the baselines cannot be fit")
        return cls(train, {k: list(v) for k, v in vocabularies.items()}, list(edges))

    def to_bytes(self) -> bytes:
        return json.dumps(
            {"train_rows": self.train_rows, "vocabularies": self.vocabularies, "edges": self.edges}
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Baselines:
        return cls(**json.loads(data))

    def to_bin(self) -> dict[str, Callable[[float], int]]:
        return {"price_bin": fixed_price_bin, "price_quantile": lambda p: quantile_bin(p, self.edges)}

    def model_prices(self, sizes: Mapping[str, int]) -> ModelPrices:
        """What the median-price baseline knows, per model of the vocabulary, for the stack's price heads."""
        heads = [h for h in PRICE_HEADS if h in sizes]
        return ModelPrices.fit(
            [r["model"] for r in self.train_rows],
            np.array([r["price"] for r in self.train_rows]),
            self.vocabularies["model"],
            {h: self.to_bin()[h] for h in heads},
            {h: sizes[h] for h in heads},
        )

    def label(self, head: str, row: Mapping[str, Any]) -> int:
        if head in PRICE_HEADS:
            return self.to_bin()[head](float(row["price"]))
        return self.vocabularies[head].index(row[head])

    def probabilities(self, head: str, rows: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
        """baseline -> (rows, classes) probabilities for listings `rows` (title and title-parsed model)."""
        n = len(self.vocabularies[head])
        y_train = np.array([self.label(head, r) for r in self.train_rows])
        out = {
            "majority": majority_probabilities(y_train, len(rows), n),
            "title_only": title_only_probabilities(
                [r["title"] for r in self.train_rows], y_train, [r["title"] for r in rows], n
            ),
        }
        if head in PRICE_HEADS:
            out["median_model_price"] = median_price_probabilities(
                [r["model"] for r in self.train_rows],
                np.array([r["price"] for r in self.train_rows]),
                [r["model"] for r in rows],
                self.to_bin()[head],
                n,
            )
        return out


def candidate_probabilities(
    head: str,
    rows: Sequence[Mapping[str, Any]],
    cnn: np.ndarray,
    stacked: np.ndarray,
    baselines: Baselines,
) -> dict[str, np.ndarray]:
    """Every candidate's probabilities for one head and the same rows, in `candidates_of(head)` order."""
    found = baselines.probabilities(head, rows) | {"cnn": np.asarray(cnn), "stacked": np.asarray(stacked)}
    return {c: found[c] for c in candidates_of(head)}


def per_listing_accuracy(y: np.ndarray, probabilities: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """candidate -> 1.0 where its top class is the label (the per-query scores a bootstrap resamples)."""
    return {c: (np.asarray(p).argmax(1) == y).astype(float) for c, p in probabilities.items()}


def compare_head(
    validation: Mapping[str, np.ndarray], test: Mapping[str, np.ndarray] | None = None, seed: int = 0
) -> Comparison:
    """Champion of one head by validation accuracy; test accuracy of every candidate with bootstrap intervals over
    listings (when `test` is given)."""
    per_query = {
        c: {"validation": {SELECTION_METRIC: validation[c]}}
        | ({"test": {SELECTION_METRIC: test[c]}} if test is not None else {})
        for c in validation
    }
    return compare_candidates(per_query, SELECTION_METRIC, baselines=BASELINES, seed=seed)


def champions_summary(comparisons: Mapping[str, Comparison]) -> dict[str, dict[str, Any]]:
    """head -> champion, whether it is a baseline, and its validation accuracy (what `champions.json` holds)."""
    return {
        head: {
            "champion": c.champion,
            "champion_is_baseline": c.champion_is_baseline,
            "runner_up": c.runner_up,
            "validation_accuracy": {k: round(v[SELECTION_METRIC].mean, 4) for k, v in c.validation.items()},
        }
        for head, c in comparisons.items()
    }


def served_probabilities(
    champion: str,
    head: str,
    rows: Sequence[Mapping[str, Any]],
    cnn: np.ndarray,
    stacked: np.ndarray,
    baselines: Baselines | None,
) -> np.ndarray:
    """What the pipeline serves for a head: its champion's probabilities (a baseline's when a baseline won)."""
    if champion == "cnn":
        return np.asarray(cnn)
    if champion == "stacked":
        return np.asarray(stacked)
    if baselines is None:
        raise ValueError(f"the champion of {head} is the baseline {champion!r}, but no baselines were saved")
    return baselines.probabilities(head, rows)[champion]


def validation_champions(
    heads: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    cnn: Mapping[str, np.ndarray],
    stacked: Mapping[str, np.ndarray],
    labels: Mapping[str, np.ndarray],
    baselines: Baselines,
) -> dict[str, Comparison]:
    """Per head, every candidate scored on the validation rows and the champion among them (no test split)."""
    out = {}
    for head in heads:
        probabilities = candidate_probabilities(head, rows, cnn[head], stacked[head], baselines)
        out[head] = compare_head(per_listing_accuracy(np.asarray(labels[head]), probabilities))
    return out
