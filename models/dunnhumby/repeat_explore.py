"""A small neural next-basket model built around repeat and explore behaviour (two stages, ReCANet-style).

Stage 1, candidates: every product the customer bought before (repeat candidates, at most
`repeat_candidates`, the most recent-weighted first) and the `explore_candidates` products their TIFU-KNN
neighbours buy most that they never bought (explore candidates).
Stage 2, a scorer: an MLP over the (customer, product) pair's repeat-consumption features (ReCANet, Ariannezhad
et al. SIGIR 2022, reads the same signal with an LSTM over the purchase gaps; here the last `pattern` baskets as
bits, counts, time-decayed counts at three rates, baskets since the last purchase), the product's global
popularity and repeat rate, the neighbours' TIFU score, the customer's basket count and a learned product
embedding, trained with binary cross-entropy on target weeks inside the training weeks only. Candidates are
ranked by the network, the rest of the list by popularity.

Kept small on purpose (Li et al. 2023: deep NBR models mostly lose to personal frequency; what wins is the
repeat signal): ~10k parameters plus the embedding, a few epochs, a minute or two of CPU.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from models.dunnhumby.basket_log import BasketLog
from models.dunnhumby.next_basket_evaluation import WeekQueries, fill_with_popularity, week_queries
from models.dunnhumby.tifu_knn import TifuKnnConfig, customer_vectors, nearest_neighbours, neighbour_mean

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DECAY_RATES = (0.5, 0.8, 0.95)


@dataclass(frozen=True)
class RepeatExploreConfig:
    repeat_candidates: int = 80
    explore_candidates: int = 20
    pattern: int = 6  # last baskets as bits
    embedding_dim: int = 8
    hidden: tuple[int, ...] = (32, 16)
    epochs: int = 3
    batch_size: int = 1024
    learning_rate: float = 0.003
    training_weeks: int = 6  # the last weeks of the training weeks serve as targets
    seed: int = 0
    tifu: TifuKnnConfig = field(default_factory=TifuKnnConfig)  # the neighbour signal

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> RepeatExploreConfig:
        data = dict(data)
        data["tifu"] = TifuKnnConfig(**data["tifu"])
        data["hidden"] = tuple(data["hidden"])
        return cls(**data)


@dataclass
class Candidates:
    query: np.ndarray  # (pairs,) query row
    product: np.ndarray  # (pairs,) product index
    features: np.ndarray  # (pairs, features) float32


def candidate_features(history: BasketLog, rows: np.ndarray, config: RepeatExploreConfig) -> Candidates:
    """Stage 1 and the pair features for the customers at `rows` of `history`."""
    n_products = len(history.products)
    counts = history.counts()[rows].toarray()
    tifu_vectors = customer_vectors(history, config.tifu)
    nearest = nearest_neighbours(tifu_vectors, rows, config.tifu.neighbours)
    neighbours = neighbour_mean(tifu_vectors, nearest, config.tifu.neighbours)
    own = tifu_vectors[rows].toarray()

    seen = counts > 0
    repeat_rank = np.argsort(-np.where(seen, own, -1.0), axis=1, kind="stable")[:, : config.repeat_candidates]
    explore_rank = np.argsort(-np.where(seen, -1.0, neighbours), axis=1, kind="stable")[:, : config.explore_candidates]
    chosen = np.zeros_like(seen)
    np.put_along_axis(chosen, repeat_rank, np.take_along_axis(seen, repeat_rank, axis=1), axis=1)
    np.put_along_axis(chosen, explore_rank, np.take_along_axis(neighbours > 0, explore_rank, axis=1), axis=1)
    query, product = np.nonzero(chosen)

    n_baskets = history.length[rows].astype(np.float64)
    columns = [
        seen[query, product],
        np.log1p(counts[query, product]),
        counts[query, product] / np.maximum(n_baskets[query], 1.0),
    ]
    for rate in DECAY_RATES:
        decayed = history.weighted(rate ** np.minimum(history.position, 200))[rows]
        columns.append(np.asarray(decayed[query, product]).ravel() * (1.0 - rate))
    last_seen = np.full(len(query), float(config.pattern) * 2)
    for j in range(config.pattern):
        bit = np.asarray(history.weighted((history.position == j).astype(np.float64))[rows][query, product]).ravel()
        columns.append(bit)
        last_seen = np.where((bit > 0) & (last_seen > j), j, last_seen)
    columns.append(np.log1p(last_seen))
    popularity = history.popularity()
    all_counts = history.counts()
    buyers = np.asarray((all_counts > 0).sum(axis=0)).ravel()
    repeaters = np.asarray((all_counts > 1).sum(axis=0)).ravel()
    columns += [
        np.log1p(popularity)[product] / np.log1p(max(popularity.max(), 1.0)),
        (repeaters / np.maximum(buyers, 1))[product],
        neighbours[query, product] * 10.0,
        own[query, product] * 10.0,
        np.log1p(n_baskets)[query] / 5.0,
    ]
    features = np.stack([np.asarray(c, dtype=np.float32) for c in columns], axis=1)
    assert product.max(initial=0) < max(n_products, 1)
    return Candidates(query, product, features)


def _build_network(config: RepeatExploreConfig, n_features: int, n_products: int):
    import keras
    from keras import layers

    keras.utils.set_random_seed(config.seed)
    features = keras.Input((n_features,), name="features")
    product = keras.Input((), dtype="int32", name="product")
    embedded = layers.Flatten()(layers.Embedding(n_products, config.embedding_dim, name="product_embedding")(product))
    hidden = layers.Concatenate()([features, embedded])
    for units in config.hidden:
        hidden = layers.Dense(units, activation="relu")(hidden)
    output = layers.Dense(1, activation="sigmoid", name="bought")(hidden)
    model = keras.Model([features, product], output, name="repeat_explore_mlp")
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss="binary_crossentropy")
    return model


@dataclass
class RepeatExploreModel:
    config: RepeatExploreConfig
    products: list[str]
    network: object
    loss: list[float]

    name = "RepeatExplore-MLP"

    @classmethod
    def train(cls, training: Sequence[WeekQueries], config: RepeatExploreConfig) -> RepeatExploreModel:
        """`training`: queries of target weeks inside the training weeks (never validation or test)."""
        xs, ps, ys = [], [], []
        for q in training:
            c = candidate_features(q.history, q.rows, config)
            xs.append(c.features)
            ps.append(c.product)
            ys.append(np.asarray(q.targets[c.query, c.product]).ravel().astype(np.float32))
        x, p, y = np.concatenate(xs), np.concatenate(ps).astype(np.int32), np.concatenate(ys)
        products = training[0].history.products
        network = _build_network(config, x.shape[1], len(products))
        fit = network.fit(
            {"features": x, "product": p}, y, epochs=config.epochs, batch_size=config.batch_size, shuffle=True,
            verbose=0,
        )  # fmt: skip
        return cls(config, list(products), network, [float(v) for v in fit.history["loss"]])

    def scores(self, history: BasketLog, rows: np.ndarray) -> np.ndarray:
        """(len(rows), products): the network's probability on candidates, the rest by popularity."""
        c = candidate_features(history, rows, self.config)
        out = np.zeros((rows.size, len(history.products)))
        if len(c.query):
            predicted = self.network.predict(
                {"features": c.features, "product": c.product.astype(np.int32)}, batch_size=8192, verbose=0
            )
            out[c.query, c.product] = np.asarray(predicted).ravel() + 1e-9  # a candidate always beats the fill
        return fill_with_popularity(out, history)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.network.save(folder / "repeat_explore.keras")
        (folder / "repeat_explore.json").write_text(json.dumps({"config": self.config.to_json(), "loss": self.loss}))

    @classmethod
    def load(cls, folder: Path, products: list[str]) -> RepeatExploreModel:
        import keras

        meta = json.loads((folder / "repeat_explore.json").read_text())
        network = keras.saving.load_model(folder / "repeat_explore.keras")
        return cls(RepeatExploreConfig.from_json(meta["config"]), products, network, meta["loss"])


def training_queries(
    log: BasketLog, train_weeks: Sequence[str], config: RepeatExploreConfig, min_history: int
) -> list[WeekQueries]:
    """The last `training_weeks` training weeks as targets, each with the weeks before it as history."""
    return [week_queries(log, w, min_history) for w in list(train_weeks)[-config.training_weeks :]]
