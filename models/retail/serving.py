"""The served champion of a saved retail model version: the two-tower index or one of the count baselines.

`report.json` names the champion (chosen on validation by `models.retail.retrieval`); `load_recommender`
returns the matching recommender, and both kinds answer a cart the same way (`items`, `recommend(cart)`,
`model_name`, `is_baseline`), so the shop page does not care which one won. Loading a baseline champion does
not import Keras.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from foundation.ranking_metrics import rank_top_k
from models.retail.sequences import BASELINES, CONTEXT_LENGTH, TOP_K, CountBaselines

BASELINES_FILE = "baselines.npz"  # the count baselines of a saved version (models.retail.retrieval writes it)


class BaselineRecommender:
    """A count baseline serving carts: the cart (in the order added) is the purchase context."""

    is_baseline = True

    def __init__(self, directory: str | Path, name: str) -> None:
        if name not in BASELINES:
            raise ValueError(f"{name!r} is not a baseline; known: {BASELINES}")
        directory = Path(directory)
        self.model_name = name
        self.baselines = CountBaselines.load(directory / BASELINES_FILE)
        self.items = {int(r["item_id"]): r for r in json.loads((directory / "catalogue.json").read_text())}

    def recommend(self, cart: list[int], k: int = TOP_K) -> list[dict[str, Any]]:
        recent = cart[-CONTEXT_LENGTH:]
        context = np.array([[*recent, *[0] * (CONTEXT_LENGTH - len(recent))]], dtype=np.int64)
        scores = np.array(self.baselines.scores(self.model_name, context), dtype=np.float64)
        in_cart = self.baselines.catalogue.positions(np.array(cart))
        scores[0, in_cart[in_cart >= 0]] = -np.inf
        ids = self.baselines.catalogue.item_ids
        return [
            {**self.items[int(ids[p])], "score": round(float(scores[0, p]), 4)}
            for p in rank_top_k(scores, k)[0]
            if np.isfinite(scores[0, p])
        ]


def champion_of(directory: str | Path) -> str:
    """The champion a saved version names (versions saved before champions existed served the two-tower)."""
    report = Path(directory) / "report.json"
    return json.loads(report.read_text()).get("champion", "two_tower") if report.exists() else "two_tower"


def load_recommender(directory: str | Path) -> Any:
    """The champion of the saved version in `directory`: a `BaselineRecommender` or the two-tower `Recommender`."""
    champion = champion_of(directory)
    if champion in BASELINES:
        return BaselineRecommender(directory, champion)
    from models.retail.two_tower import Recommender

    return Recommender(directory)
