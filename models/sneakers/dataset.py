"""The sneaker training set: labels, price bins, a leak-free split, and TFRecord examples.

Near-identical listings (same model and colourway, or the very same image file) always land in the same
split, so the validation and test images are never re-uploads of training images (the original project's
random split leaked them). Quantile price bins are fitted on the training split only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from foundation.progress import Progress
from foundation.storage.filesystems import read_bytes
from foundation.storage.tfrecords import FeatureSpec, ShardWriter

FIXED_PRICE_EDGES = (100, 200, 300, 400, 500, 600, 700, 800, 900)  # bins 0-100 ... 800-900, 900+
FIXED_PRICE_LABELS = tuple(
    f"{lo}-{hi}" for lo, hi in zip((0, *FIXED_PRICE_EDGES[:-1]), FIXED_PRICE_EDGES, strict=True)
) + ("900+",)
SPLITS = ("train", "validation", "test")
HEADS = ("price_bin", "price_quantile", "model", "brand")
SPLITS_SCHEMA = pa.schema(
    [
        ("listing_id", pa.string()),
        ("split", pa.string()),
        ("group", pa.string()),  # smallest model|colourway of the listings linked by key or image
        ("image_sha", pa.string()),
        ("title", pa.string()),
        ("price", pa.float64()),
        ("model", pa.string()),
        ("brand", pa.string()),
        ("query", pa.string()),
    ]
)


@dataclass(frozen=True)
class DatasetSettings:
    """How the TFRecords are built: price quantile bins, split shares, shard size."""

    price_quantile_bins: int = 10
    train_share: float = 0.7
    validation_share: float = 0.15
    shard_megabytes: int = 64


@dataclass(frozen=True)
class SplitShares:
    train: float = 0.7
    validation: float = 0.15  # test gets the rest


def group_keys(models: Sequence[str], colourways: Sequence[str], image_hashes: Sequence[str]) -> list[str]:
    """One group per connected component of listings linked by a shared model+colourway or a shared image file.

    Union-find over both keys, so the grouping is transitive: A and B share an image, B and C share a
    model+colourway, and A, B, C get one group. A component is named by its smallest model+colourway key, so the
    name (and the split hashed from it) does not depend on row order. Hand-written: a dozen lines, and neither
    scipy's connected_components (needs integer ids and a sparse matrix) nor networkx (not a dependency) is simpler.
    """
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]  # path halving
            node = parent[node]
        return node

    keys = [f"{model}|{colourway}" for model, colourway in zip(models, colourways, strict=True)]
    for key, sha in zip(keys, image_hashes, strict=True):
        a, b = find("k:" + key), find("i:" + sha)
        if a != b:
            parent[max(a, b)] = min(a, b)
    names: dict[str, str] = {}
    for key in keys:
        root = find("k:" + key)
        names[root] = min(names.get(root, key), key)
    return [names[find("k:" + key)] for key in keys]


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


def feature_specs(n_models: int | None, n_brands: int | None, n_quantiles: int | None) -> dict[str, FeatureSpec]:
    """The TFRecord features; the one-hot lengths follow the vocabularies and bins of a build (None: not yet known)."""
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


# -- building the training set ----------------------------------------------------------------------------


def assign_splits(rows: list[dict[str, Any]], settings: DatasetSettings) -> list[float]:
    """Set each row's `group` and `split` (leak-free); returns the price quantile edges fitted on train."""
    groups = group_keys([r["model"] for r in rows], [r["colourway"] for r in rows], [r["image_sha"] for r in rows])
    shares = SplitShares(settings.train_share, settings.validation_share)
    for r, g in zip(rows, groups, strict=True):
        r["group"], r["split"] = g, assign_split(g, shares)
    return quantile_edges([float(r["price"]) for r in rows if r["split"] == "train"], settings.price_quantile_bins)


def splits_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Each listing's split (the `sneaker_splits` table the leak check and the evaluation read)."""
    split_rows = [{k: r[k] for k in SPLITS_SCHEMA.names if k != "price"} | {"price": float(r["price"])} for r in rows]
    return pa.Table.from_pylist(split_rows, schema=SPLITS_SCHEMA)


def vocabularies(models: list[str], brands: list[str], edges: Sequence[float]) -> dict[str, list[str]]:
    """Class names of every head, in one-hot order."""
    return {
        "model": models,
        "brand": brands,
        "price_bin": list(FIXED_PRICE_LABELS),
        "price_quantile": quantile_labels(edges),
    }


def write_shards(
    rows: list[dict[str, Any]],
    uris: Mapping[str, str],
    models: list[str],
    brands: list[str],
    edges: list[float],
    settings: DatasetSettings,
    metadata: Mapping[str, Any],
    log: Any,
) -> tuple[dict[str, int], dict[str, float]]:
    """Shards of every split (`uris[split]`) with the vocabularies, quantile edges and `metadata` in each
    manifest; returns the examples per split and the write rate."""
    specs = feature_specs(len(models), len(brands), len(edges) + 1)
    manifest = {"vocabularies": vocabularies(models, brands, edges), "price_quantile_edges": edges, **metadata}
    counts = {}
    progress = Progress(log, "examples written", len(rows))
    for split in SPLITS:
        shard_bytes = settings.shard_megabytes * 2**20
        with ShardWriter(uris[split], specs, shard_bytes=shard_bytes, metadata={**manifest, "split": split}) as writer:
            for r in (r for r in rows if r["split"] == split):
                price = float(r["price"])
                writer.write(
                    {
                        "listing_id": r["listing_id"],
                        "image": read_bytes(r["image_path"]),  # a local path or an object-store URI
                        "title": r["title"],
                        "price": price,
                        "price_bin": one_hot(fixed_price_bin(price), len(FIXED_PRICE_LABELS)),
                        "price_quantile": one_hot(quantile_bin(price, edges), len(edges) + 1),
                        "model": one_hot(models.index(r["model"]), len(models)),
                        "brand": one_hot(brands.index(r["brand"]), len(brands)),
                    }
                )
                progress.advance()
        counts[split] = writer.manifest.examples
    progress.done()
    return counts, progress.metadata()
