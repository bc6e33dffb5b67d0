"""Recommenders for a user x item interaction matrix, all behind one interface.

`fit(interactions)` learns from an `Interactions` (binary user x item matrix with its id maps),
`scores(user_rows)` scores the whole catalogue for a batch of users (what evaluation uses), and
`recommend(user_id, k, exclude_seen)` gives the top-k item ids for one user (what the UI uses).

Baselines first (random, most-popular), then the strong simple ones (item-kNN cosine, EASE; Steck 2019,
"Embarrassingly Shallow Autoencoders"), then a neural model (`models/amazon/autoencoder.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

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


def temporal_leave_last_out(ratings: pl.DataFrame) -> Split:
    """Per user, the latest rating (ties by item id) is held out; users with one rating only train.

    The catalogue is every item of the dataset, so an item seen only in a held-out rating still has to be
    found among all the others.
    """
    users = np.sort(ratings["user_id"].unique().to_numpy())
    items = np.sort(ratings["parent_asin"].unique().to_numpy())
    df = ratings.select("user_id", "parent_asin", "timestamp").with_columns(
        pl.col("user_id").replace_strict(users, np.arange(users.size)).alias("u"),
        pl.col("parent_asin").replace_strict(items, np.arange(items.size)).alias("i"),
    )
    df = df.sort("u", "timestamp", "parent_asin").with_columns(
        pl.int_range(pl.len()).over("u").alias("pos"), pl.len().over("u").alias("n")
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
    )


class Recommender:
    name = "base"

    def fit(self, interactions: Interactions) -> Recommender:
        self.interactions = interactions
        self._fit(interactions.matrix.tocsr().astype(np.float32))
        return self

    def _fit(self, x: sp.csr_matrix) -> None:
        raise NotImplementedError

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
    """Item-based kNN: cosine similarity between item columns, pruned to each item's `neighbours` nearest."""

    name = "item_knn"

    def __init__(self, neighbours: int = 100, shrink: float = 0.0) -> None:
        self.neighbours = neighbours
        self.shrink = shrink

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
                keep = start + np.argpartition(-sim.data[start:end], self.neighbours)[: self.neighbours]
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
