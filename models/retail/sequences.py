"""Item-item sequence examples and the simple baselines (TensorFlow only inside `read_examples`).

Examples keep the original feature layout: `context_*` features of the last `CONTEXT_LENGTH`
purchases before the label, oldest first, padded at the end with 0 (b"" for brand codes), and
`label_item_id`. Two extra features make leakage checkable: `label_timestamp` and
`context_timestamp` (seconds since the epoch), plus `entity_id`.

Two splits into train / validation / test (`split_examples(..., protocol=...)`); a context always holds
only purchases before its label:
- `leave_last_out` (default): per customer entity with at least `MIN_TIMELINE` purchases, the last
  purchase is its test example, the one before it its validation example, every earlier purchase (from the
  second on) a training label.
- `global_time`: two time cuts over all labels (the latest `test_share` of purchases, and the
  `validation_share` before them); labels before the first cut train, and each entity's first purchase
  after each cut is its validation or test example. Unlike leave-last-out, no training label is later
  than another entity's held-out purchase (leave-last-out lets other customers' later purchases train).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
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


SPLITS = ("train", "validation", "test")
PROTOCOLS = ("leave_last_out", "global_time")


@dataclass
class SplitSettings:
    """How examples are split (the run config of `item_item_examples`): `protocol` is `leave_last_out` or
    `global_time`; the shares are of label times and apply to `global_time` only."""

    protocol: str = "leave_last_out"
    validation_share: float = 0.1
    test_share: float = 0.1


@dataclass
class SplitStats:
    entities: int
    entities_too_short: int
    train_examples: int
    validation_examples: int
    test_examples: int
    protocol: str = "leave_last_out"
    cuts: dict[str, int] | None = None  # global_time: first label timestamp of validation and test

    def metadata(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class ExampleSplit:
    """Examples per split (`SPLITS`) and how they were made."""

    train: list[dict[str, Any]]
    validation: list[dict[str, Any]]
    test: list[dict[str, Any]]
    stats: SplitStats

    def parts(self) -> dict[str, list[dict[str, Any]]]:
        return {"train": self.train, "validation": self.validation, "test": self.test}


def timelines(transactions: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
    """Per entity, its purchases in time order (ties broken by store and transaction id)."""
    frame = transactions.copy()
    if "timestamp" not in frame:
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


def split_examples(
    transactions: pd.DataFrame,
    protocol: str = "leave_last_out",
    validation_share: float = 0.1,
    test_share: float = 0.1,
) -> ExampleSplit:
    """Train, validation and test examples (see module doc) from transactions with entity ids."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown split protocol {protocol!r}; choose one of {PROTOCOLS}")
    frame = transactions.copy()
    frame["timestamp"] = pd.to_datetime(frame["transaction_time"], utc=True).astype("int64") // 1_000_000_000
    cuts = None
    if protocol == "global_time":
        # Cuts over label times (every purchase but each entity's first, which has no context).
        first = frame.groupby("entity_id")["timestamp"].transform("min")
        labels = frame.loc[frame["timestamp"] > first, "timestamp"]
        if labels.empty:
            raise ValueError("no purchase after an entity's first: nothing to split")
        quantiles = np.quantile(labels, [1.0 - test_share - validation_share, 1.0 - test_share])
        cuts = {"validation_from": int(quantiles[0]), "test_from": int(max(quantiles[1], quantiles[0] + 1))}
    parts: dict[str, list[dict[str, Any]]] = {name: [] for name in SPLITS}
    short = entities = 0
    for entity_id, group in timelines(frame):
        entities += 1
        if len(group) < MIN_TIMELINE:
            short += 1
            continue
        history = {column: group[column].to_numpy() for column in set(_SOURCE_COLUMNS.values())}
        history["brand_code"] = np.array([str(b or "").encode() for b in history["brand_code"]], dtype=object)
        for split, index in _assign(history["timestamp"], cuts):
            parts[split].append(_example(history, index, str(entity_id)))
    stats = SplitStats(
        entities,
        short,
        len(parts["train"]),
        len(parts["validation"]),
        len(parts["test"]),
        protocol,
        cuts,
    )
    return ExampleSplit(parts["train"], parts["validation"], parts["test"], stats)


def _assign(times: np.ndarray, cuts: dict[str, int] | None) -> Iterator[tuple[str, int]]:
    """(split, label index) of an entity's purchases, in time order (index 0 has no context: never a label)."""
    last = len(times) - 1
    if cuts is None:  # leave-last-out
        yield from (("train", i) for i in range(1, last - 1))
        yield "validation", last - 1
        yield "test", last
        return
    seen_validation = seen_test = False
    for i in range(1, last + 1):
        if times[i] < cuts["validation_from"]:
            yield "train", i
        elif times[i] < cuts["test_from"]:
            if not seen_validation:
                seen_validation = True
                yield "validation", i
        elif not seen_test:
            seen_test = True
            yield "test", i


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


def leakage_counts(
    train: dict[str, np.ndarray], test: dict[str, np.ndarray], validation: dict[str, np.ndarray] | None = None
) -> dict[str, int]:
    """Context items later than their label, and training labels later than the entity's held-out purchases
    (test, and validation when given): all must be 0."""
    held_out = {"test": test} | ({"validation": validation} if validation is not None else {})
    future = sum(
        int(((a["context_timestamp"] > a["label_timestamp"]) & (a["context_item_id"] != 0)).sum())
        for a in (train, *held_out.values())
    )
    counts = {"future_context_items": future}
    for name, arrays in held_out.items():
        held = dict(zip(arrays["entity_id"][:, 0], arrays["label_timestamp"][:, 0], strict=True))
        counts[f"train_labels_after_{name}"] = int(
            sum(
                ts > held.get(e, np.inf)
                for e, ts in zip(train["entity_id"][:, 0], train["label_timestamp"][:, 0], strict=True)
            )
        )
    return counts


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


BASELINES = ("most_popular", "last_item_transition", "item_cooccurrence")


class CountBaselines:
    """The three count baselines fitted once on training examples, so they can be scored on any split and
    saved next to the two-tower index (any of them may be the served champion).

    Counts are sparse (scipy): a catalogue of 5,000 items has 25M item pairs, of which training sees a few
    hundred thousand. Scores are the dense rows the earlier per-call functions computed, value for value."""

    def __init__(self, catalogue: Catalogue, popularity: np.ndarray, transition: Any, cooccurrence: Any) -> None:
        self.catalogue = catalogue
        self.popularity = np.asarray(popularity, dtype=np.float32)  # training label counts
        self.transition = transition.tocsr()  # last context item -> label counts
        self.cooccurrence = cooccurrence.tocsr()  # any context item -> label counts

    @classmethod
    def fit(cls, train_context: np.ndarray, train_labels: np.ndarray, catalogue: Catalogue) -> CountBaselines:
        import scipy.sparse as sp

        n = len(catalogue)
        label = catalogue.positions(np.ravel(train_labels))
        popularity = np.bincount(label[label >= 0], minlength=n).astype(np.float32)
        last = catalogue.positions(_last_items(train_context))
        ok = (last >= 0) & (label >= 0)
        ones = np.ones(int(ok.sum()), dtype=np.float32)
        transition = sp.coo_matrix((ones, (last[ok], label[ok])), shape=(n, n), dtype=np.float32)
        ctx = catalogue.positions(train_context)
        rows, cols = [], []
        for column in range(ctx.shape[1]):
            ok = (ctx[:, column] >= 0) & (label >= 0)
            rows.append(ctx[ok, column])
            cols.append(label[ok])
        r, c = np.concatenate(rows), np.concatenate(cols)
        cooccurrence = sp.coo_matrix((np.ones(r.size, np.float32), (r, c)), shape=(n, n), dtype=np.float32)
        return cls(catalogue, popularity, transition, cooccurrence)

    def _tie_break(self) -> np.ndarray:
        return self.popularity / (self.popularity.max() or 1.0) * 1e-3

    def scores(self, name: str, query_context: np.ndarray) -> np.ndarray:
        """Full-catalogue scores [queries, items] of baseline `name` for contexts (item ids, oldest first)."""
        if name == "most_popular":
            return np.broadcast_to(self.popularity, (len(query_context), len(self.catalogue)))
        if name == "last_item_transition":
            query_last = self.catalogue.positions(_last_items(query_context))
            rows = self.transition[query_last.clip(0)].toarray()
            return np.where(query_last[:, None] >= 0, rows, 0.0) + self._tie_break()
        if name == "item_cooccurrence":
            query = self.catalogue.positions(query_context)
            length = (query >= 0).sum(axis=1)
            scores = np.zeros((len(query), len(self.catalogue)), dtype=np.float32)
            for column in range(query.shape[1]):
                ok = query[:, column] >= 0
                # weight 1 for the most recent purchase, halving for each step back
                weight = np.power(0.5, np.maximum(length - 1 - column, 0)).astype(np.float32)[:, None]
                scores[ok] += weight[ok] * self.cooccurrence[query[ok, column]].toarray()
            return scores + self._tie_break()
        raise ValueError(f"unknown baseline {name!r}; known: {BASELINES}")

    def save(self, path: Any) -> None:
        """One `.npz`: catalogue ids, popularity and both count matrices in CSR parts."""
        parts = {"item_ids": self.catalogue.item_ids, "popularity": self.popularity}
        for name in ("transition", "cooccurrence"):
            m = getattr(self, name)
            parts |= {f"{name}_data": m.data, f"{name}_indices": m.indices, f"{name}_indptr": m.indptr}
        np.savez_compressed(path, **parts)

    @classmethod
    def load(cls, path: Any) -> CountBaselines:
        import scipy.sparse as sp

        saved = np.load(path)
        n = len(saved["item_ids"])

        def matrix(name: str) -> Any:
            parts = (saved[f"{name}_data"], saved[f"{name}_indices"], saved[f"{name}_indptr"])
            return sp.csr_matrix(parts, shape=(n, n))

        return cls(Catalogue(saved["item_ids"]), saved["popularity"], matrix("transition"), matrix("cooccurrence"))


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
    return CountBaselines.fit(train_context, train_labels, catalogue).scores("last_item_transition", query_context)


def cooccurrence_scores(
    train_context: np.ndarray, train_labels: np.ndarray, query_context: np.ndarray, catalogue: Catalogue
) -> np.ndarray:
    """Sum over the context's items of (context item -> label) counts, recent items weighted more."""
    return CountBaselines.fit(train_context, train_labels, catalogue).scores("item_cooccurrence", query_context)
