"""Two-tower next-item retrieval in plain Keras 3 (no tensorflow-recommenders, no tf-keras).

Query tower: the last 10 purchases (item, department, brand, quantity, price, discount, return)
through a GRU into an embedding. Candidate tower: item, department and brand embeddings of each
catalogue item. Both share the item embedding table. Training scores each query against the whole
catalogue (softmax over all candidates: exact for catalogues of this size, where sampled negatives
would only add noise); retrieval is a brute-force dot product over the saved candidate embeddings.

Saved artefacts (`save_index`): `query_tower.keras`, `candidates.npz` (item ids + embeddings) and
`catalogue.json`, which is all `Recommender` needs to turn a cart into 10 recommendations.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
from keras import layers, ops  # noqa: E402

from foundation.ranking_metrics import top_k_by_partition  # noqa: E402
from models.retail.config import TwoTowerConfig  # noqa: E402
from models.retail.sequences import CONTEXT_LENGTH, TOP_K, Catalogue  # noqa: E402

QUERY_INPUTS = (
    "context_item_id",
    "context_item_department_id",
    "context_discount_id",
    "context_return_id",
    "context_item_quantity",
    "context_item_price",
    "context_brand_code",
    "context_timestamp",
)


@dataclass
class CatalogueFeatures:
    item_ids: np.ndarray  # int64 [n]
    department_ids: np.ndarray  # int64 [n]
    brand_codes: np.ndarray  # str [n]
    prices: np.ndarray  # float32 [n]
    descriptions: np.ndarray  # str [n]

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {
                "item_id": int(i),
                "department_id": int(d),
                "brand_code": str(b),
                "price": round(float(p), 2),
                "description": str(s),
            }
            for i, d, b, p, s in zip(
                self.item_ids, self.department_ids, self.brand_codes, self.prices, self.descriptions, strict=True
            )
        ]

    @classmethod
    def from_json(cls, rows: list[dict[str, Any]]) -> CatalogueFeatures:
        return cls(
            item_ids=np.array([r["item_id"] for r in rows], dtype=np.int64),
            department_ids=np.array([r["department_id"] for r in rows], dtype=np.int64),
            brand_codes=np.array([r["brand_code"] for r in rows], dtype=object),
            prices=np.array([r["price"] for r in rows], dtype=np.float32),
            descriptions=np.array([r["description"] for r in rows], dtype=object),
        )


def build_towers(catalogue: CatalogueFeatures, config: TwoTowerConfig) -> tuple[keras.Model, keras.Model]:
    """(query tower, candidate tower) sharing the item embedding."""
    item_ids = [int(i) for i in catalogue.item_ids]
    brands = sorted({str(b) for b in catalogue.brand_codes if str(b)})
    n_departments = int(catalogue.department_ids.max()) + 1
    item_lookup = layers.IntegerLookup(vocabulary=item_ids, mask_token=0, name="item_lookup")
    brand_lookup = layers.StringLookup(vocabulary=brands, mask_token="", name="brand_lookup")
    item_embedding = layers.Embedding(len(item_ids) + 2, config.embedding_dim, name="item_embedding")
    department_embedding = layers.Embedding(n_departments + 1, 8, name="department_embedding")
    brand_embedding = layers.Embedding(len(brands) + 2, 8, name="brand_embedding")

    inputs = {
        name: keras.Input(shape=(CONTEXT_LENGTH,), name=name, dtype=dtype)
        for name, dtype in [
            ("context_item_id", "int64"),
            ("context_item_department_id", "int64"),
            ("context_discount_id", "int64"),
            ("context_return_id", "int64"),
            ("context_item_quantity", "float32"),
            ("context_item_price", "float32"),
            ("context_brand_code", "string"),
            ("context_timestamp", "int64"),
        ]
    }
    mask = ops.not_equal(inputs["context_item_id"], 0)
    present = ops.cast(mask, "float32")
    # Hours between each purchase and the most recent one (0 within the current basket or cart): which context
    # items are the session in progress and which are earlier visits. log1p keeps weeks and hours comparable.
    stamps = ops.cast(inputs["context_timestamp"], "float32")
    latest = ops.max(stamps * present, axis=1, keepdims=True)
    hours_before = ops.log1p(ops.maximum(latest - stamps, 0.0) / 3600.0) * present
    numeric = ops.stack(
        [
            ops.log1p(ops.maximum(inputs["context_item_quantity"], 0.0)),
            ops.log1p(ops.maximum(inputs["context_item_price"], 0.0)),
            ops.cast(ops.greater(inputs["context_discount_id"], 0), "float32"),
            ops.cast(ops.greater(inputs["context_return_id"], 0), "float32"),
            *([hours_before] if config.time_gaps else []),
        ],
        axis=-1,
    )
    context_items = item_embedding(item_lookup(inputs["context_item_id"]))
    sequence = layers.Concatenate(name="context_features")(
        [
            context_items,
            department_embedding(ops.clip(inputs["context_item_department_id"], 0, n_departments)),
            brand_embedding(brand_lookup(inputs["context_brand_code"])),
            numeric,
        ]
    )
    sequence = layers.Dropout(config.dropout, name="context_dropout")(sequence)
    state = layers.GRU(config.gru_units, name="history_gru")(sequence, mask=mask)
    # The most recent item gets a direct path too: what was just bought predicts the next purchase
    # most strongly, and the GRU alone is slow to learn that identity mapping.
    is_last = present * (1.0 - ops.concatenate([present[:, 1:], ops.zeros_like(present[:, :1])], axis=1))
    last_item = ops.sum(context_items * ops.expand_dims(is_last, -1), axis=1)
    paths = [state, last_item]
    if config.pooled_context:
        # The mean of all context items' embeddings: a learned co-occurrence over the whole context (baskets are
        # sets, so the order the GRU reads matters less than which items are there).
        count = ops.maximum(ops.sum(present, axis=1, keepdims=True), 1.0)
        paths.append(ops.sum(context_items * ops.expand_dims(present, -1), axis=1) / count)
    query = layers.Dense(config.embedding_dim, name="query_projection")(
        layers.Concatenate(name="query_features")(paths)
    )
    query_tower = keras.Model(dict(sorted(inputs.items())), query, name="query_tower")

    c_inputs = {  # sorted keys: tf.nest hands dicts over sorted, and Keras checks the structure
        "brand_code": keras.Input(shape=(), name="brand_code", dtype="string"),
        "department_id": keras.Input(shape=(), name="department_id", dtype="int64"),
        "item_id": keras.Input(shape=(), name="item_id", dtype="int64"),
        "price": keras.Input(shape=(), name="price", dtype="float32"),
    }
    candidate = layers.Concatenate(name="candidate_features")(
        [
            item_embedding(item_lookup(c_inputs["item_id"])),
            department_embedding(ops.clip(c_inputs["department_id"], 0, n_departments)),
            brand_embedding(brand_lookup(c_inputs["brand_code"])),
            ops.expand_dims(ops.log1p(ops.maximum(c_inputs["price"], 0.0)), -1),
        ]
    )
    candidate = layers.Dense(config.embedding_dim, name="candidate_projection")(candidate)
    candidate_tower = keras.Model(c_inputs, candidate, name="candidate_tower")
    return query_tower, candidate_tower


def candidate_inputs(catalogue: CatalogueFeatures) -> dict[str, np.ndarray]:
    return {
        "item_id": catalogue.item_ids.astype(np.int64),
        "department_id": catalogue.department_ids.astype(np.int64),
        "brand_code": np.array([str(b) for b in catalogue.brand_codes], dtype=object),
        "price": catalogue.prices.astype(np.float32),
    }


class FullCatalogueRetrieval(keras.Model):
    """Training wrapper: logits of each query against every catalogue item."""

    def __init__(self, query_tower: keras.Model, candidate_tower: keras.Model, catalogue: CatalogueFeatures) -> None:
        super().__init__()
        self.query_tower = query_tower
        self.candidate_tower = candidate_tower
        # A plain tuple of tensors: Keras would wrap a dict attribute into a tracked dict whose
        # structure it then reports as not matching the tower's inputs.
        self.candidate_names = tuple(sorted(candidate_inputs(catalogue)))
        self.candidate_values = tuple(
            keras.ops.convert_to_tensor(candidate_inputs(catalogue)[k]) for k in self.candidate_names
        )

    def call(self, inputs: dict[str, Any], training: bool = False) -> Any:
        queries = self.query_tower(inputs, training=training)
        candidates = self.candidate_tower(
            dict(zip(self.candidate_names, self.candidate_values, strict=True)), training=training
        )
        return ops.matmul(queries, ops.transpose(candidates))


def query_features(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The query tower's inputs from example arrays (brand codes as str)."""
    out = {name: arrays[name] for name in QUERY_INPUTS if name != "context_brand_code"}
    brands = arrays["context_brand_code"]
    out["context_brand_code"] = (
        np.vectorize(lambda b: b.decode() if isinstance(b, bytes) else str(b), otypes=[object])(brands)
        if brands.size
        else brands.astype(object)
    )
    return out


def train(
    train_arrays: dict[str, np.ndarray], catalogue: CatalogueFeatures, config: TwoTowerConfig, callbacks: Sequence = ()
) -> tuple[keras.Model, np.ndarray, dict[str, list[float]]]:
    """Fit the towers; returns (query tower, candidate embeddings [n_items, dim], loss history)."""
    import tensorflow as tf

    keras.utils.set_random_seed(config.seed)
    query_tower, candidate_tower = build_towers(catalogue, config)
    model = FullCatalogueRetrieval(query_tower, candidate_tower, catalogue)
    labels = Catalogue(catalogue.item_ids).positions(train_arrays["label_item_id"][:, 0])
    keep = labels >= 0
    features = {k: v[keep] for k, v in query_features(train_arrays).items()}
    dataset = (
        tf.data.Dataset.from_tensor_slices((features, labels[keep]))
        .shuffle(min(len(labels), 50_000), seed=config.seed)
        .batch(config.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    # The dataset shuffles.
    history = model.fit(dataset, epochs=config.epochs, verbose=0, shuffle=False, callbacks=list(callbacks))
    embeddings = np.asarray(candidate_tower(candidate_inputs(catalogue), training=False))
    return query_tower, embeddings, {k: [round(float(x), 4) for x in v] for k, v in history.history.items()}


def score_queries(query_tower: keras.Model, embeddings: np.ndarray, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Brute-force scores of each query against every candidate embedding."""
    import tensorflow as tf

    batches = tf.data.Dataset.from_tensor_slices(query_features(arrays)).batch(4096)
    queries = np.asarray(query_tower.predict(batches, verbose=0))
    return queries @ embeddings.T


def save_index(
    directory: Path,
    query_tower: keras.Model,
    embeddings: np.ndarray,
    catalogue: CatalogueFeatures,
    config: TwoTowerConfig,
    report: dict[str, Any],
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    query_tower.save(directory / "query_tower.keras")
    np.savez(directory / "candidates.npz", item_ids=catalogue.item_ids, embeddings=embeddings)
    (directory / "catalogue.json").write_text(json.dumps(catalogue.to_json()))
    (directory / "report.json").write_text(json.dumps({"config": asdict(config), **report}, indent=2, default=str))
    return directory


class Recommender:
    """A saved index: a cart (item ids, in order added) -> top-k items not already in the cart."""

    model_name = "two_tower"
    is_baseline = False

    def __init__(self, directory: str | Path) -> None:
        directory = Path(directory)
        self.query_tower = keras.saving.load_model(directory / "query_tower.keras", compile=False)
        saved = np.load(directory / "candidates.npz")
        self.item_ids = saved["item_ids"]
        self.embeddings = saved["embeddings"]
        self.catalogue = CatalogueFeatures.from_json(json.loads((directory / "catalogue.json").read_text()))
        self.items = {int(r["item_id"]): r for r in self.catalogue.to_json()}
        self.positions = Catalogue(self.item_ids)

    def cart_context(self, cart: list[int]) -> dict[str, np.ndarray]:
        """A cart as one query: its last 10 items, quantity 1 at full price, padded at the end."""
        recent = cart[-CONTEXT_LENGTH:]
        pad = CONTEXT_LENGTH - len(recent)
        rows = [self.items[i] for i in recent]
        return {
            "context_item_id": np.array([[*recent, *[0] * pad]], dtype=np.int64),
            "context_item_department_id": np.array([[r["department_id"] for r in rows] + [0] * pad], dtype=np.int64),
            "context_discount_id": np.zeros((1, CONTEXT_LENGTH), dtype=np.int64),
            "context_return_id": np.zeros((1, CONTEXT_LENGTH), dtype=np.int64),
            "context_item_quantity": np.array([[1.0] * len(rows) + [0.0] * pad], dtype=np.float32),
            "context_item_price": np.array([[r["price"] for r in rows] + [0.0] * pad], dtype=np.float32),
            "context_brand_code": np.array([[r["brand_code"] for r in rows] + [""] * pad], dtype=object),
            "context_timestamp": np.zeros((1, CONTEXT_LENGTH), dtype=np.int64),  # one session: no gaps
        }

    def recommend(self, cart: list[int], k: int = TOP_K) -> list[dict[str, Any]]:
        context = self.cart_context(cart)
        query = np.asarray(self.query_tower(context, training=False))
        scores = query @ self.embeddings.T
        in_cart = self.positions.positions(np.array(cart))
        scores[0, in_cart[in_cart >= 0]] = -np.inf
        best = top_k_by_partition(scores, k)[0]
        return [{**self.items[int(self.item_ids[p])], "score": round(float(scores[0, p]), 4)} for p in best]
