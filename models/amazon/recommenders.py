"""Recommenders for a user x item interaction matrix, all behind one interface.

`fit(interactions)` learns from an `Interactions` (binary user x item matrix with its id maps),
`scores(user_rows)` scores the whole catalogue for a batch of users (what evaluation uses), and
`recommend(user_id, k, exclude_seen)` gives the top-k item ids for one user (what the UI uses).

Baselines first (random, most-popular), then the strong simple ones (item-kNN cosine, EASE; Steck 2019,
"Embarrassingly Shallow Autoencoders"), then a neural model (`models/amazon/autoencoder.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp


@dataclass
class Interactions:
    """Binary user x item matrix with row and column ids."""

    matrix: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray

    @property
    def n_items(self) -> int:
        return self.matrix.shape[1]

    def user_row(self, user_id: str) -> int:
        rows = np.flatnonzero(self.user_ids == user_id)
        if not rows.size:
            raise KeyError(f"unknown user {user_id!r}")
        return int(rows[0])


@dataclass
class Split:
    train: Interactions
    test: dict[int, list[int]]  # user row -> held-out item columns
    seed: int = 0  # of the tie-break draw
    tied_users: int = 0  # test users whose latest timestamp is shared by two or more of their ratings
    min_rating: float | None = None  # ratings below it were not positives (None: every rating is one)

    @property
    def tied_share(self) -> float:
        """Share of test users whose held-out rating was drawn among ratings with the same latest timestamp."""
        return self.tied_users / len(self.test) if self.test else 0.0


def temporal_leave_last_out(ratings: pl.DataFrame, seed: int = 0, min_rating: float | None = None) -> Split:
    """Per user, the latest rating is held out; users with one rating only train.

    When several of a user's latest ratings share a timestamp (common: bulk ratings), the held-out one is a
    seeded random draw among them, not the one with the highest or lowest item id: item ids can correlate with
    popularity (they do on MovieLens), and a fixed id rule then holds out systematically obscure (or popular)
    items and biases every model's score. Holding out the whole tied group was the other option; a single draw
    keeps one held-out item per user, so the numbers stay comparable with the usual leave-one-out protocol.
    The share of such users is `Split.tied_share`.

    With `min_rating`, only ratings at or above it are positives (the others are dropped before the split).
    The catalogue is every item of the dataset, so an item seen only in a held-out rating still has to be
    found among all the others.
    """
    if min_rating is not None:
        ratings = ratings.filter(pl.col("rating") >= min_rating)
    users = np.sort(ratings["user_id"].unique().to_numpy())
    items = np.sort(ratings["parent_asin"].unique().to_numpy())
    df = ratings.select("user_id", "parent_asin", "timestamp").with_columns(
        pl.col("user_id").replace_strict(users, np.arange(users.size)).alias("u"),
        pl.col("parent_asin").replace_strict(items, np.arange(items.size)).alias("i"),
    )
    # The tie-break key is a seeded hash of (user, item): random across items, reproducible, order-independent.
    df = df.with_columns(pl.struct("user_id", "parent_asin").hash(seed=seed).alias("draw"))
    df = df.sort("u", "timestamp", "draw").with_columns(
        pl.int_range(pl.len()).over("u").alias("pos"),
        pl.len().over("u").alias("n"),
        (pl.col("timestamp") == pl.col("timestamp").max().over("u")).sum().over("u").alias("at_latest"),
    )
    held = (pl.col("pos") == pl.col("n") - 1) & (pl.col("n") >= 2)
    train = df.filter(~held)
    test = df.filter(held)
    matrix = sp.csr_matrix(
        (np.ones(train.height, np.float32), (train["u"].to_numpy(), train["i"].to_numpy())),
        shape=(users.size, items.size),
    )
    matrix.data[:] = 1.0  # duplicates collapse to one interaction
    return Split(
        Interactions(matrix, users, items),
        {int(u): [int(i)] for u, i in zip(test["u"].to_numpy(), test["i"].to_numpy(), strict=True)},
        seed=seed,
        tied_users=int((test["at_latest"] > 1).sum()),
        min_rating=min_rating,
    )


class Recommender:
    name = "base"

    def fit(self, interactions: Interactions) -> Recommender:
        self.interactions = interactions
        self._fit(interactions.matrix.tocsr().astype(np.float32))
        return self

    def _fit(self, x: sp.csr_matrix) -> None:
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """The hyper-parameters this model was fitted with (recorded in metrics.json)."""
        return {}

    def scores(self, users: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def recommend(self, user_id: str, k: int = 10, exclude_seen: bool = True) -> list[str]:
        row = self.interactions.user_row(user_id)
        scores = np.array(self.scores(np.array([row]))[0], dtype=np.float64)  # a copy: scores may be read-only
        if exclude_seen:
            scores[self.interactions.matrix[row].indices] = -np.inf
        order = np.argsort(-scores, kind="stable")[:k]
        return [str(self.interactions.item_ids[i]) for i in order if np.isfinite(scores[i])]


class RandomRecommender(Recommender):
    """Uniformly random ranking: the floor every model must clear by far."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def settings(self) -> dict[str, Any]:
        return {"seed": self.seed}

    def _fit(self, x: sp.csr_matrix) -> None:
        self.n_items = x.shape[1]

    def scores(self, users: np.ndarray) -> np.ndarray:
        return np.stack([np.random.default_rng([self.seed, int(u)]).random(self.n_items) for u in users])


class MostPopularRecommender(Recommender):
    """Items ranked by how many users interacted with them in training."""

    name = "popular"

    def _fit(self, x: sp.csr_matrix) -> None:
        self.popularity = np.asarray(x.sum(axis=0), np.float64).ravel()

    def scores(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity, (len(users), self.popularity.size))


class ItemKNNRecommender(Recommender):
    """Item-based kNN: cosine similarity between item columns, pruned to each item's `neighbours` nearest
    (ties at the cut by lower item index)."""

    name = "item_knn"

    def __init__(self, neighbours: int = 100, shrink: float = 0.0) -> None:
        self.neighbours = neighbours
        self.shrink = shrink

    def settings(self) -> dict[str, Any]:
        return {"neighbours": self.neighbours, "shrink": self.shrink}

    def _fit(self, x: sp.csr_matrix) -> None:
        counts = np.asarray(x.sum(axis=0)).ravel()
        norms = np.sqrt(counts)
        co = (x.T @ x).tocsr().astype(np.float32)
        co.setdiag(0)
        co.eliminate_zeros()
        coo = co.tocoo()
        coo.data = coo.data / (norms[coo.row] * norms[coo.col] + self.shrink + 1e-12)
        sim = coo.tocsr()
        rows, cols, vals = [], [], []
        for i in range(sim.shape[0]):  # keep the strongest neighbours of each item
            start, end = sim.indptr[i], sim.indptr[i + 1]
            if end - start > self.neighbours:
                # Tie-fair and deterministic: by similarity, ties by lower item index (argpartition would pick
                # arbitrarily among neighbours tied at the cut, so results depended on numpy's partition).
                order = np.lexsort((sim.indices[start:end], -sim.data[start:end]))
                keep = start + order[: self.neighbours]
            else:
                keep = np.arange(start, end)
            rows.append(np.full(keep.size, i))
            cols.append(sim.indices[keep])
            vals.append(sim.data[keep])
        n = x.shape[1]
        self.similarity = sp.csr_matrix(
            (
                np.concatenate(vals) if vals else [],
                (np.concatenate(rows) if rows else [], np.concatenate(cols) if cols else []),
            ),
            shape=(n, n),
        )
        self.x = x

    def scores(self, users: np.ndarray) -> np.ndarray:
        return np.asarray((self.x[users] @ self.similarity.T).todense())


class EASERecommender(Recommender):
    """EASE: closed-form item-item regression with a zero diagonal. Dense n_items^2, so up to ~30k items."""

    name = "ease"

    def __init__(self, l2: float = 200.0) -> None:
        self.l2 = l2

    def settings(self) -> dict[str, Any]:
        return {"l2": self.l2}

    def _fit(self, x: sp.csr_matrix) -> None:
        gram = np.asarray((x.T @ x).todense(), dtype=np.float64)
        gram[np.diag_indices_from(gram)] += self.l2
        precision = np.linalg.inv(gram)
        weights = -precision / np.diag(precision)
        weights[np.diag_indices_from(weights)] = 0.0
        self.weights = weights.astype(np.float32)
        self.x = x

    def scores(self, users: np.ndarray) -> np.ndarray:
        return np.asarray(self.x[users] @ self.weights)
