"""The sneaker training set: labels, price bins, a leak-free split, and TFRecord examples.

Near-identical listings (same model and colourway, or the very same image file) always land in the same
split, so the validation and test images are never re-uploads of training images (the original project's
random split leaked them). Quantile price bins are fitted on the training split only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from foundation.storage.tfrecords import FeatureSpec

FIXED_PRICE_EDGES = (100, 200, 300, 400, 500, 600, 700, 800, 900)  # bins 0-100 ... 800-900, 900+
FIXED_PRICE_LABELS = tuple(f"{lo}-{hi}" for lo, hi in zip((0, *FIXED_PRICE_EDGES[:-1]), FIXED_PRICE_EDGES, strict=True)) + ("900+",)
SPLITS = ("train", "validation", "test")
HEADS = ("price_bin", "price_quantile", "model", "brand")


@dataclass(frozen=True)
class SplitShares:
    train: float = 0.7
    validation: float = 0.15  # test gets the rest


def group_keys(models: Sequence[str], colourways: Sequence[str], image_hashes: Sequence[str]) -> list[str]:
    """A group per (model, colourway); listings sharing an image file join the first group that used it."""
    by_image: dict[str, str] = {}
    groups = []
    for model, colourway, sha in zip(models, colourways, image_hashes, strict=True):
        group = f"{model}|{colourway}"
        group = by_image.setdefault(sha, group)
        groups.append(group)
    return groups


def assign_split(group: str, shares: SplitShares = SplitShares(), salt: str = "sneakers-v1") -> str:
    """Deterministic split from a hash of the group key (stable across runs and machines)."""
    u = int(hashlib.sha256(f"{salt}:{group}".encode()).hexdigest()[:12], 16) / 16**12
    if u < shares.train:
        return "train"
    return "validation" if u < shares.train + shares.validation else "test"


def fixed_price_bin(price: float) -> int:
    return int(np.searchsorted(FIXED_PRICE_EDGES, price, side="right"))


def quantile_edges(train_prices: Sequence[float], bins: int = 10) -> list[float]:
    """Inner edges of `bins` equal-count bins, fitted on training prices only."""
    qs = np.quantile(np.asarray(train_prices, dtype=float), np.linspace(0, 1, bins + 1)[1:-1])
    return [float(q) for q in qs]


def quantile_bin(price: float, edges: Sequence[float]) -> int:
    return int(np.searchsorted(edges, price, side="right"))


def quantile_labels(edges: Sequence[float]) -> list[str]:
    bounds = [0.0, *edges]
    return [f"{bounds[i]:.0f}-{edges[i]:.0f}" for i in range(len(edges))] + [f"{edges[-1]:.0f}+"]


def one_hot(index: int, size: int) -> list[int]:
    vec = [0] * size
    vec[index] = 1
    return vec


def feature_specs(n_models: int, n_brands: int, n_quantiles: int) -> dict[str, FeatureSpec]:
    return {
        "listing_id": FeatureSpec("bytes"),
        "image": FeatureSpec("bytes"),
        "title": FeatureSpec("bytes"),
        "price": FeatureSpec("float"),
        "price_bin": FeatureSpec("int64", len(FIXED_PRICE_LABELS)),
        "price_quantile": FeatureSpec("int64", n_quantiles),
        "model": FeatureSpec("int64", n_models),
        "brand": FeatureSpec("int64", n_brands),
    }
