"""Item-item sequence examples and the simple baselines (TensorFlow only inside `read_examples`).

Examples keep the original feature layout: `context_*` features of the last `CONTEXT_LENGTH`
purchases before the label, oldest first, padded at the end with 0 (b"" for brand codes), and
`label_item_id`. Two extra features make leakage checkable: `label_timestamp` and
`context_timestamp` (seconds since the epoch), plus `entity_id`.

Split per customer entity, in time: the last purchase of each entity with at least
`MIN_TIMELINE` purchases is its test example; every earlier purchase (from the second on) is a
training label whose context holds only purchases before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from foundation.storage.tfrecords import FeatureSpec, ShardWriter, read_manifest

CONTEXT_LENGTH = 10
MIN_TIMELINE = 3
TOP_K = 10

CONTEXT_INT_FEATURES = ("context_item_id", "context_item_department_id", "context_discount_id", "context_return_id")
CONTEXT_FLOAT_FEATURES = ("context_item_quantity", "context_item_price")
EXAMPLE_FEATURES: dict[str, FeatureSpec] = {
    "context_item_id": FeatureSpec("int64", CONTEXT_LENGTH),
    "context_item_quantity": FeatureSpec("float", CONTEXT_LENGTH),
    "context_item_price": FeatureSpec("float", CONTEXT_LENGTH),
    "context_item_department_id": FeatureSpec("int64", CONTEXT_LENGTH),
    "context_discount_id": FeatureSpec("int64", CONTEXT_LENGTH),
    "context_return_id": FeatureSpec("int64", CONTEXT_LENGTH),
    "context_brand_code": FeatureSpec("bytes", CONTEXT_LENGTH),
    "context_timestamp": FeatureSpec("int64", CONTEXT_LENGTH),
    "label_item_id": FeatureSpec("int64", 1),
    "label_timestamp": FeatureSpec("int64", 1),
    "entity_id": FeatureSpec("bytes", 1),
}

_SOURCE_COLUMNS = {
    "context_item_id": "item_id",
    "context_item_quantity": "quantity",
    "context_item_price": "price",
    "context_item_department_id": "department_id",
    "context_discount_id": "discount_id",
    "context_return_id": "return_id",
    "context_brand_code": "brand_code",
    "context_timestamp": "timestamp",
}


@dataclass
class SplitStats:
    entities: int
    entities_too_short: int
    train_examples: int
    test_examples: int


def timelines(transactions: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
    """Per entity, its purchases in time order (ties broken by store and transaction id)."""
    frame = transactions.copy()
    frame["timestamp"] = pd.to_datetime(frame["transaction_time"], utc=True).astype("int64") // 1_000_000_000
    frame = frame.sort_values(["entity_id", "timestamp", "store_id", "transaction_id"], kind="stable")
    yield from frame.groupby("entity_id", sort=True)


def _example(history: dict[str, np.ndarray], label_index: int, entity_id: str) -> dict[str, Any]:
    start = max(0, label_index - CONTEXT_LENGTH)
    example: dict[str, Any] = {}
    for feature, column in _SOURCE_COLUMNS.items():
        values = list(history[column][start:label_index])
        pad = b"" if feature == "context_brand_code" else 0
        example[feature] = values + [pad] * (CONTEXT_LENGTH - len(values))
    example["label_item_id"] = int(history["item_id"][label_index])
    example["label_timestamp"] = int(history["timestamp"][label_index])
    example["entity_id"] = entity_id
    return example


def split_examples(transactions: pd.DataFrame) -> tuple[list[dict[str, Any]], list[dict[str, Any]], SplitStats]:
    """Train and test examples (see module doc) from transactions with entity ids."""
    train, test, short, entities = [], [], 0, 0
    for entity_id, group in timelines(transactions):
        entities += 1
        if len(group) < MIN_TIMELINE:
            short += 1
            continue
        history = {column: group[column].to_numpy() for column in set(_SOURCE_COLUMNS.values())}
        history["brand_code"] = np.array([str(b or "").encode() for b in history["brand_code"]], dtype=object)
        last = len(group) - 1
        train.extend(_example(history, i, str(entity_id)) for i in range(1, last))
        test.append(_example(history, last, str(entity_id)))
    return train, test, SplitStats(entities, short, len(train), len(test))


def as_arrays(examples: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Column arrays (shape [n, length]) of examples, in the dtypes the model reads."""
    out: dict[str, np.ndarray] = {}
    for name, spec in EXAMPLE_FEATURES.items():
        if spec.kind == "bytes":
            out[name] = np.array([e[name] if spec.length != 1 else [e[name]] for e in examples], dtype=object)
        else:
            dtype = np.float32 if spec.kind == "float" else np.int64
            out[name] = np.array([e[name] if spec.length != 1 else [e[name]] for e in examples], dtype=dtype)
        out[name] = out[name].reshape(len(examples), spec.length)
    return out


def write_examples(uri: str, examples: list[dict[str, Any]], metadata: dict[str, Any]) -> int:
    """Write examples as TFRecord shards + manifest under `uri`; returns how many were written."""
    with ShardWriter(uri, EXAMPLE_FEATURES, prefix="examples", metadata=metadata) as writer:
        writer.write_all(examples)
    return len(examples)


def read_examples(uri: str) -> dict[str, np.ndarray]:
    """Example arrays from a manifest's TFRecords (through tf.data, as a trainer reads them)."""
    from foundation.storage.tfrecord_datasets import dataset_from_manifest

    if read_manifest(uri).examples == 0:
        raise ValueError(f"{uri} has no examples")
    batches = list(dataset_from_manifest(uri, parallel=False).batch(65536).as_numpy_iterator())
    return {name: np.concatenate([b[name] for b in batches]) for name in EXAMPLE_FEATURES}


def leakage_counts(train: dict[str, np.ndarray], test: dict[str, np.ndarray]) -> dict[str, int]:
    """Context items later than their label, and training labels later than the entity's held-out purchase:
    both must be 0."""
    future = sum(
        int(((a["context_timestamp"] > a["label_timestamp"]) & (a["context_item_id"] != 0)).sum())
        for a in (train, test)
    )
    last_test = dict(zip(test["entity_id"][:, 0], test["label_timestamp"][:, 0], strict=True))
    train_after_test = int(
        sum(
            ts > last_test.get(e, np.inf)
            for e, ts in zip(train["entity_id"][:, 0], train["label_timestamp"][:, 0], strict=True)
        )
    )
    return {"future_context_items": future, "train_labels_after_test": train_after_test}


# -- baselines (their rankings are scored by foundation.ranking_metrics) ------------------------------------------


class Catalogue:
    """Item ids <-> dense positions over the full catalogue (the candidates every method ranks)."""

    def __init__(self, item_ids: np.ndarray) -> None:
        self.item_ids = np.asarray(item_ids, dtype=np.int64)
        self.position = {int(i): p for p, i in enumerate(self.item_ids)}

    def __len__(self) -> int:
        return len(self.item_ids)

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Positions of ids; -1 for padding (0) and unknown ids."""
        flat = [self.position.get(int(i), -1) for i in np.ravel(ids)]
        return np.array(flat, dtype=np.int64).reshape(np.shape(ids))


def most_popular_scores(train_labels: np.ndarray, catalogue: Catalogue, n_queries: int) -> np.ndarray:
    counts = np.bincount(catalogue.positions(train_labels).clip(0), minlength=len(catalogue)).astype(np.float32)
    return np.broadcast_to(counts, (n_queries, len(catalogue)))


def _last_items(context: np.ndarray) -> np.ndarray:
    length = (context != 0).sum(axis=1)
    return np.where(length > 0, context[np.arange(len(context)), np.maximum(length - 1, 0)], 0)


def transition_scores(
    train_context: np.ndarray, train_labels: np.ndarray, query_context: np.ndarray, catalogue: Catalogue
) -> np.ndarray:
    """Last item -> next item counts from training examples; popularity breaks ties and fills gaps."""
    n = len(catalogue)
    last = catalogue.positions(_last_items(train_context))
    label = catalogue.positions(train_labels)
    ok = (last >= 0) & (label >= 0)
    counts = np.zeros((n, n), dtype=np.float32)
    np.add.at(counts, (last[ok], label[ok]), 1.0)
    popularity = np.bincount(label[label >= 0], minlength=n).astype(np.float32)
    popularity = popularity / (popularity.max() or 1.0) * 1e-3
    query_last = catalogue.positions(_last_items(query_context))
    scores = np.where(query_last[:, None] >= 0, counts[query_last.clip(0)], 0.0)
    return scores + popularity


def cooccurrence_scores(
    train_context: np.ndarray, train_labels: np.ndarray, query_context: np.ndarray, catalogue: Catalogue
) -> np.ndarray:
    """Sum over the context's items of (context item -> label) counts, recent items weighted more."""
    n = len(catalogue)
    label = catalogue.positions(train_labels)
    counts = np.zeros((n, n), dtype=np.float32)
    ctx = catalogue.positions(train_context)
    for column in range(ctx.shape[1]):
        ok = (ctx[:, column] >= 0) & (label >= 0)
        np.add.at(counts, (ctx[ok, column], label[ok]), 1.0)
    popularity = np.bincount(label[label >= 0], minlength=n).astype(np.float32)
    popularity = popularity / (popularity.max() or 1.0) * 1e-3
    query = catalogue.positions(query_context)
    length = (query >= 0).sum(axis=1)
    scores = np.zeros((len(query), n), dtype=np.float32)
    for column in range(query.shape[1]):
        ok = query[:, column] >= 0
        # weight 1 for the most recent purchase, halving for each step back
        weight = np.power(0.5, np.maximum(length - 1 - column, 0)).astype(np.float32)[:, None]
        scores[ok] += weight[ok] * counts[query[ok, column]]
    return scores + popularity
