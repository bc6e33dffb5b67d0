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


PROTOCOLS = ("temporal_leave_last_out", "global_time")


@dataclass
class Split:
    """`train` (what serving and the test scores use) and the held-out `test` items; `validation` is the same
    protocol applied once more inside `train` (its own, smaller train and held-out items), on which the champion
    is chosen before test is looked at."""

    train: Interactions
    test: dict[int, list[int]]  # user row -> held-out item columns
    seed: int = 0  # of the tie-break draw
    tied_users: int = 0  # test users whose latest timestamp is shared by two or more of their ratings
    min_rating: float | None = None  # ratings below it were not positives (None: every rating is one)
    validation: Split | None = None
    protocol: str = "temporal_leave_last_out"
    cut: str | None = None  # global_time: the first held-out timestamp (ISO)

    @property
    def tied_share(self) -> float:
        """Share of test users whose held-out rating was drawn among ratings with the same latest timestamp."""
        return self.tied_users / len(self.test) if self.test else 0.0


def make_split(
    ratings: pl.DataFrame,
    protocol: str = "temporal_leave_last_out",
    seed: int = 0,
    min_rating: float | None = None,
    test_share: float = 0.1,
    validation_share: float = 0.1,
) -> Split:
    """The split of `protocol` (`PROTOCOLS`) with its validation split inside the training part."""
    if protocol == "temporal_leave_last_out":
        return temporal_leave_last_out(ratings, seed, min_rating)
    if protocol == "global_time":
        return global_time_split(ratings, test_share, validation_share, seed, min_rating)
    raise ValueError(f"unknown split protocol {protocol!r}; choose one of {PROTOCOLS}")


def temporal_leave_last_out(
    ratings: pl.DataFrame, seed: int = 0, min_rating: float | None = None, validation: bool = True
) -> Split:
    """Per user, the latest rating is held out; users with one rating only train. The validation split holds out
    each user's latest rating of the remaining training ratings the same way.

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
    inner = None
    if validation:  # the same rule inside the training ratings (same ids: rows and columns line up)
        inner = temporal_leave_last_out(
            ratings.join(test.select("user_id", "parent_asin"), on=["user_id", "parent_asin"], how="anti"),
            seed,
            None,
            validation=False,
        )
        inner = _reindexed(inner, users, items)
    return Split(
        Interactions(_matrix(train, users.size, items.size), users, items),
        {int(u): [int(i)] for u, i in zip(test["u"].to_numpy(), test["i"].to_numpy(), strict=True)},
        seed=seed,
        tied_users=int((test["at_latest"] > 1).sum()),
        min_rating=min_rating,
        validation=inner,
    )


def _matrix(pairs: pl.DataFrame, n_users: int, n_items: int) -> sp.csr_matrix:
    matrix = sp.csr_matrix(
        (np.ones(pairs.height, np.float32), (pairs["u"].to_numpy(), pairs["i"].to_numpy())), shape=(n_users, n_items)
    )
    matrix.data[:] = 1.0  # duplicates collapse to one interaction
    return matrix


def _reindexed(split: Split, users: np.ndarray, items: np.ndarray) -> Split:
    """`split` (made on a subset of the ratings) on the full user and item ids, so its models score the same
    catalogue and its user rows are the outer split's."""
    user_row = np.searchsorted(users, split.train.user_ids)
    item_col = np.searchsorted(items, split.train.item_ids)
    coo = split.train.matrix.tocoo()
    matrix = sp.csr_matrix(
        (coo.data, (user_row[coo.row], item_col[coo.col])), shape=(users.size, items.size), dtype=np.float32
    )
    test = {int(user_row[u]): [int(item_col[i]) for i in held] for u, held in split.test.items()}
    return Split(
        Interactions(matrix, users, items),
        test,
        seed=split.seed,
        tied_users=split.tied_users,
        min_rating=split.min_rating,
        protocol=split.protocol,
        cut=split.cut,
    )


def global_time_split(
    ratings: pl.DataFrame,
    test_share: float = 0.1,
    validation_share: float = 0.1,
    seed: int = 0,
    min_rating: float | None = None,
) -> Split:
    """One time cut for everybody: the latest `test_share` of ratings are held out, and each user with ratings on
    both sides of the cut is a test user whose held-out items are all of theirs after it (items already rated
    before are not held out again). Unlike leave-last-out, no training rating is later than any held-out one, so
    other users' later ratings cannot train the model. The validation split cuts the training ratings again
    (the latest `validation_share / (1 - test_share)` of them)."""
    if min_rating is not None:
        ratings = ratings.filter(pl.col("rating") >= min_rating)
    users = np.sort(ratings["user_id"].unique().to_numpy())
    items = np.sort(ratings["parent_asin"].unique().to_numpy())
    df = ratings.select("user_id", "parent_asin", "timestamp").with_columns(
        pl.col("user_id").replace_strict(users, np.arange(users.size)).alias("u"),
        pl.col("parent_asin").replace_strict(items, np.arange(items.size)).alias("i"),
    )
    test_cut = df["timestamp"].quantile(1.0 - test_share, interpolation="lower")
    before = df.filter(pl.col("timestamp") < test_cut)
    inner_share = validation_share / max(1e-9, 1.0 - test_share)
    validation_cut = before["timestamp"].quantile(1.0 - inner_share, interpolation="lower") if before.height else None
    inner = _cut(before, users, items, validation_cut, seed, min_rating) if validation_cut is not None else None
    split = _cut(df, users, items, test_cut, seed, min_rating)
    split.validation = inner
    return split


def _cut(
    df: pl.DataFrame, users: np.ndarray, items: np.ndarray, cut: Any, seed: int, min_rating: float | None
) -> Split:
    train = df.filter(pl.col("timestamp") < cut)
    later = df.filter(pl.col("timestamp") >= cut).join(train.select("u", "i"), on=["u", "i"], how="anti")
    later = later.filter(pl.col("u").is_in(train["u"].unique().implode()))  # users the model has seen
    test = later.group_by("u").agg(pl.col("i").unique().sort()).sort("u")
    return Split(
        Interactions(_matrix(train, users.size, items.size), users, items),
        {int(u): [int(i) for i in held] for u, held in zip(test["u"].to_list(), test["i"].to_list(), strict=True)},
        seed=seed,
        min_rating=min_rating,
        protocol="global_time",
        cut=str(cut),
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
