"""Next-basket recommendation: the original Keras architecture, its frequency baselines, and metrics.

Protocol (the same split for the model and every baseline): for each customer with at least
`min_baskets` baskets, the last basket is the test target and every earlier basket is history.
Training examples come from the history only (each earlier basket predicted from the ones before),
so no test basket is ever seen in training. Ranking is over the whole product dictionary; target
products outside it still count in the denominators (they are misses, never dropped).

Metrics at k: Recall@k, NDCG@k (binary gains) and PHR@k (share of customers with at least one hit),
also split into *repeat* items (the customer bought them before) and *explore* items (new to them),
where frequency baselines are known to be strong and weak respectively.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from foundation.markdown import markdown_table
from foundation.ranking_metrics import target_set_metrics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402  (after quieting TensorFlow's start-up log)
from keras import layers, ops  # noqa: E402

Basket = Sequence[str]
History = Sequence[Basket]


@dataclass(frozen=True)
class NextBasketConfig:
    """The original architecture's sizes are the defaults; tests pass a tiny configuration."""

    dictionary_size: int = 4900  # top products kept; the rest map to one out-of-dictionary id
    max_basket_items: int = 16
    max_sequence_baskets: int = 80
    embedding_dim: int = 64
    lstm_units: int = 64
    hidden_units: int = 128
    epochs: int = 8
    batch_size: int = 64
    learning_rate: float = 0.003
    targets_per_customer: int = 8  # training examples per customer (most recent history baskets)
    min_baskets: int = 3
    top_k: int = 10
    seed: int = 0
    # Not in the original: add a learned per-product weight x log(1 + times bought before) to the output
    # logits, the repeat signal that makes P-TopFreq strong and that the original has to rediscover.
    repeat_aware: bool = False

    @classmethod
    def tiny(cls) -> NextBasketConfig:
        """For tests: trains in seconds, proves the plumbing, predicts little."""
        return cls(
            dictionary_size=500, max_basket_items=8, max_sequence_baskets=10, embedding_dim=8, lstm_units=8,
            hidden_units=16, epochs=2, batch_size=64, targets_per_customer=3,
        )  # fmt: skip

    @classmethod
    def small(cls) -> NextBasketConfig:
        """For the demo: the original dictionary and basket sizes, shorter sequences, smaller layers."""
        return cls(max_sequence_baskets=20, embedding_dim=32, lstm_units=32, hidden_units=64, epochs=6)

    @classmethod
    def small_repeat_aware(cls) -> NextBasketConfig:
        return replace(cls.small(), repeat_aware=True)

    @classmethod
    def preset(cls, name: str) -> NextBasketConfig:
        presets = {
            "full": cls,
            "full-repeat": lambda: cls(repeat_aware=True),
            "small": cls.small,
            "small-repeat": cls.small_repeat_aware,
            "tiny": cls.tiny,
        }
        if name not in presets:
            raise ValueError(f"unknown next-basket preset {name!r}; choose one of {sorted(presets)}")
        return presets[name]()


# -- data --------------------------------------------------------------------------------------


@dataclass
class ProductDictionary:
    """Ids: 0 = padding, 1 = out-of-dictionary product, 2.. = products by descending frequency."""

    products: list[str]

    PAD = 0
    OOV = 1

    @classmethod
    def fit(cls, histories: Sequence[History], size: int) -> ProductDictionary:
        counts = Counter(p for history in histories for basket in history for p in set(basket))
        return cls([p for p, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]])

    def __post_init__(self) -> None:
        self.index = {p: i + 2 for i, p in enumerate(self.products)}

    def __len__(self) -> int:
        return len(self.products)

    def encode(self, product: str) -> int:
        return self.index.get(product, self.OOV)


@dataclass
class Split:
    """Customers, their histories (inputs) and their last baskets (targets)."""

    customers: list[str]
    histories: list[list[list[str]]]
    targets: list[set[str]]


def temporal_split(sequences: dict[str, list[list[str]]], min_baskets: int = 3) -> Split:
    customers, histories, targets = [], [], []
    for customer, baskets in sorted(sequences.items()):
        if len(baskets) >= min_baskets:
            customers.append(customer)
            histories.append([list(b) for b in baskets[:-1]])
            targets.append(set(baskets[-1]))
    return Split(customers, histories, targets)


def encode_histories(
    histories: Sequence[History], dictionary: ProductDictionary, config: NextBasketConfig
) -> np.ndarray:
    """[customers, max_sequence_baskets, max_basket_items] ids; the most recent baskets, right-aligned."""
    out = np.zeros((len(histories), config.max_sequence_baskets, config.max_basket_items), dtype=np.int32)
    for row, history in enumerate(histories):
        recent = history[-config.max_sequence_baskets :]
        offset = config.max_sequence_baskets - len(recent)
        for t, basket in enumerate(recent):
            ids = [dictionary.encode(p) for p in dict.fromkeys(basket)][: config.max_basket_items]
            out[row, offset + t, : len(ids)] = ids
    return out


def multi_hot(baskets: Sequence[Basket], dictionary: ProductDictionary) -> np.ndarray:
    out = np.zeros((len(baskets), len(dictionary)), dtype=np.float32)
    for row, basket in enumerate(baskets):
        for p in basket:
            if (i := dictionary.index.get(p)) is not None:
                out[row, i - 2] = 1.0
    return out


def training_examples(
    histories: Sequence[History], config: NextBasketConfig
) -> tuple[list[list[list[str]]], list[list[str]]]:
    """(inputs, target) pairs from the history only: each of the last few baskets from those before it."""
    inputs, targets = [], []
    for history in histories:
        for t in range(max(1, len(history) - config.targets_per_customer), len(history)):
            inputs.append(list(history[:t]))
            targets.append(list(history[t]))
    return inputs, targets


# -- the model (Keras 3) -------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="storefront_dunnhumby")
class BasketMask(layers.Layer):
    """True for the baskets of a padded history that hold at least one item."""

    def call(self, ids):
        return ops.any(ops.not_equal(ids, 0), axis=-1)


@keras.saving.register_keras_serializable(package="storefront_dunnhumby")
class BasketMean(layers.Layer):
    """Mean of the item embeddings of each basket, ignoring padding items."""

    def call(self, embedded, ids):
        mask = ops.cast(ops.not_equal(ids, 0), embedded.dtype)[..., None]
        return ops.sum(embedded * mask, axis=2) / ops.maximum(ops.sum(mask, axis=2), 1.0)


@keras.saving.register_keras_serializable(package="storefront_dunnhumby")
class AttentionPooling(layers.Layer):
    """Softmax-weighted sum over time of the non-empty baskets (takes the mask explicitly, returns none)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None

    def build(self, input_shape):
        self.score = layers.Dense(1)
        self.score.build(input_shape)

    def call(self, states, basket_mask):
        logits = ops.squeeze(self.score(states), -1)
        logits = ops.where(basket_mask, logits, ops.full_like(logits, -1e9))
        weights = ops.softmax(logits, axis=1)
        return ops.sum(states * weights[..., None], axis=1)


@keras.saving.register_keras_serializable(package="storefront_dunnhumby")
class PersonalFrequency(layers.Layer):
    """log(1 + how often each dictionary product occurs in the history): the repeat-buying signal."""

    def __init__(self, n_products: int, **kwargs):
        super().__init__(**kwargs)
        self.n_products = n_products

    def call(self, ids):
        flat = ops.reshape(ids, (-1, ids.shape[1] * ids.shape[2]))
        counts = ops.bincount(flat, minlength=self.n_products + 2)[:, 2:]  # drop padding and OOV
        return ops.log1p(ops.cast(counts, "float32"))

    def get_config(self):
        return {**super().get_config(), "n_products": self.n_products}


@keras.saving.register_keras_serializable(package="storefront_dunnhumby")
class RepeatAwareOutput(layers.Layer):
    """sigmoid(dense(hidden) + w_product * personal frequency), w starting at 1."""

    def __init__(self, n_products: int, **kwargs):
        super().__init__(**kwargs)
        self.n_products = n_products
        self.dense = layers.Dense(n_products)

    def build(self, hidden_shape, frequency_shape=None):
        self.dense.build(hidden_shape)
        self.repeat_weight = self.add_weight(shape=(self.n_products,), initializer="ones", name="repeat_weight")

    def call(self, hidden, frequency):
        return ops.sigmoid(self.dense(hidden) + self.repeat_weight * frequency)

    def get_config(self):
        return {**super().get_config(), "n_products": self.n_products}


def build_model(config: NextBasketConfig, n_products: int) -> keras.Model:
    """Item embedding -> masked mean per basket -> BiLSTM over baskets -> attention -> sigmoid per product."""
    keras.utils.set_random_seed(config.seed)
    ids = keras.Input((config.max_sequence_baskets, config.max_basket_items), dtype="int32", name="history")
    embedded = layers.Embedding(n_products + 2, config.embedding_dim, name="item_embedding")(ids)
    baskets = BasketMean(name="basket_mean")(embedded, ids)
    basket_mask = BasketMask(name="basket_mask")(ids)
    states = layers.Bidirectional(layers.LSTM(config.lstm_units, return_sequences=True), name="bilstm")(
        baskets, mask=basket_mask
    )
    pooled = AttentionPooling(name="attention")(states, basket_mask)
    hidden = layers.Dense(config.hidden_units, activation="relu")(pooled)
    if config.repeat_aware:
        frequency = PersonalFrequency(n_products, name="personal_frequency")(ids)
        output = RepeatAwareOutput(n_products, name="next_basket")(hidden, frequency)
    else:
        output = layers.Dense(n_products, activation="sigmoid", name="next_basket")(hidden)
    model = keras.Model(ids, output, name="next_basket_bilstm_attention")
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss="binary_crossentropy")
    return model


@dataclass
class NextBasketModel:
    config: NextBasketConfig
    dictionary: ProductDictionary
    keras_model: Any
    history: dict[str, list[float]]

    @property
    def name(self) -> str:
        return "BiLSTM-attention+repeat" if self.config.repeat_aware else "BiLSTM-attention"

    @classmethod
    def train(cls, histories: Sequence[History], config: NextBasketConfig, callbacks: Sequence = ()) -> NextBasketModel:
        dictionary = ProductDictionary.fit(histories, config.dictionary_size)
        inputs, targets = training_examples(histories, config)
        x = encode_histories(inputs, dictionary, config)
        y = multi_hot(targets, dictionary)
        model = build_model(config, len(dictionary))
        fit = model.fit(
            x, y, epochs=config.epochs, batch_size=config.batch_size, shuffle=True, verbose=0, callbacks=list(callbacks)
        )
        return cls(config, dictionary, model, {k: [float(v) for v in vs] for k, vs in fit.history.items()})

    def scores(self, histories: Sequence[History]) -> np.ndarray:
        x = encode_histories(histories, self.dictionary, self.config)
        return np.asarray(self.keras_model.predict(x, batch_size=512, verbose=0))

    def recommend(self, histories: Sequence[History], k: int) -> list[list[tuple[str, float]]]:
        scores = self.scores(histories)
        top = np.argsort(-scores, axis=1)[:, :k]
        return [[(self.dictionary.products[j], float(scores[i, j])) for j in row] for i, row in enumerate(top)]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.keras_model.save(folder / "model.keras")
        (folder / "dictionary.json").write_text(json.dumps(self.dictionary.products))
        (folder / "config.json").write_text(json.dumps(asdict(self.config), indent=2))

    @classmethod
    def load(cls, folder: Path) -> NextBasketModel:
        config = NextBasketConfig(**json.loads((folder / "config.json").read_text()))
        dictionary = ProductDictionary(json.loads((folder / "dictionary.json").read_text()))
        model = keras.saving.load_model(folder / "model.keras")
        return cls(config, dictionary, model, {})


# -- baselines ---------------------------------------------------------------------------------


def global_top(histories: Sequence[History], k: int) -> list[str]:
    """G-TopFreq: the k products in most baskets across all histories."""
    counts = Counter(p for history in histories for basket in history for p in set(basket))
    return [p for p, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


def personal_top(history: History, k: int) -> list[str]:
    """P-TopFreq: the customer's own most frequent products; ties go to the most recently bought."""
    counts: Counter[str] = Counter()
    last_seen: dict[str, int] = {}
    for t, basket in enumerate(history):
        for p in set(basket):
            counts[p] += 1
            last_seen[p] = t
    return sorted(counts, key=lambda p: (-counts[p], -last_seen[p], p))[:k]


def baseline_recommendations(histories: Sequence[History], k: int) -> dict[str, list[list[str]]]:
    popular = global_top(histories, k)
    personal = [personal_top(h, k) for h in histories]
    filled = [(p + [q for q in popular if q not in p])[:k] for p in personal]
    return {"G-TopFreq": [popular] * len(histories), "P-TopFreq": personal, "GP-TopFreq": filled}


# -- metrics -----------------------------------------------------------------------------------


def ranking_metrics(
    recommendations: Sequence[Sequence[str]], targets: Sequence[set[str]], histories: Sequence[History], k: int
) -> dict[str, float]:
    """Recall/NDCG/PHR@k (the shared metric code) over all target items, and over repeat and explore items apart.

    Keys `<part>/recall@k`, `<part>/ndcg@k`, `<part>/phr@k` (PHR = hit rate) and `<part>/customers`; a part
    absent for a customer (no repeat, or no explore, items) leaves that customer out of the part.
    """
    seen = [{p for basket in history for p in basket} for history in histories]
    parts = {
        "all": list(targets),
        "repeat": [target & s for target, s in zip(targets, seen, strict=True)],
        "explore": [target - s for target, s in zip(targets, seen, strict=True)],
    }
    renamed = {f"hit_rate@{k}": f"phr@{k}", "examples": "customers"}
    metrics = {
        f"{part}/{renamed.get(name, name)}": value
        for part, items in parts.items()
        for name, value in target_set_metrics(recommendations, items, k).items()
    }
    return dict(sorted(metrics.items()))


def evaluate(split: Split, k: int, model: NextBasketModel | None = None) -> dict[str, dict[str, float]]:
    """Metrics of the model (if given) and the three TopFreq baselines on the same split."""
    results = {
        name: ranking_metrics(recs, split.targets, split.histories, k)
        for name, recs in baseline_recommendations(split.histories, k).items()
    }
    if model is not None:
        recs = [[p for p, _ in row] for row in model.recommend(split.histories, k)]
        results[model.name] = ranking_metrics(recs, split.targets, split.histories, k)
    return results


def results_table(results: dict[str, dict[str, float]], k: int) -> str:
    """A markdown table: one row per method, all/repeat/explore columns."""
    columns = [f"{part}/{m}@{k}" for part in ("all", "repeat", "explore") for m in ("recall", "ndcg", "phr")]
    rows = [[name, *(f"{metrics.get(c, float('nan')):.4f}" for c in columns)] for name, metrics in results.items()]
    return markdown_table(["method", *columns], rows)
