"""TIFU-KNN (Hu et al., "Modeling Personalized Item Frequency Information for Next-basket Recommendation",
SIGIR 2020), in numpy/scipy: no training, a customer is a time-decayed item-frequency vector.

A customer's baskets b_1..b_n (multi-hot) are cut into groups of `group_size` consecutive baskets counted
from the most recent (the oldest group may be smaller). Within a group g of |g| baskets, basket i (1 = oldest)
weighs r_b^(|g|-i) / |g|; group j of K (1 = oldest) weighs r_g^(K-j) / K. The customer vector u is the
weighted sum of the baskets; the prediction is

    p(u) = alpha * u + (1 - alpha) * mean of the vectors of u's `neighbours` nearest customers (Euclidean)

and the top-k items of p(u) are recommended (repeat and explore items alike; items p(u) gives no weight are
filled by global popularity, so every list has k items). All five knobs are tuned on validation weeks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp

from models.dunnhumby.basket_log import BasketLog


@dataclass(frozen=True)
class TifuKnnConfig:
    group_size: int = 7
    within_decay: float = 0.9  # r_b
    group_decay: float = 0.7  # r_g
    neighbours: int = 300
    alpha: float = 0.7

    def to_json(self) -> dict:
        return asdict(self)


def customer_vectors(log: BasketLog, config: TifuKnnConfig) -> sp.csr_matrix:
    """(customers, products) TIFU vectors; a customer without baskets has a zero row."""
    m = config.group_size
    q = log.position  # 0 = most recent basket
    n = log.length[log.basket_customer]
    groups = np.ceil(n / m)  # K per basket's owner
    group_from_end = q // m  # 0 = most recent group
    oldest_size = n - (groups - 1) * m
    group_len = np.where(group_from_end == groups - 1, oldest_size, m)
    within_from_end = q - group_from_end * m  # 0 = the group's most recent basket
    weight = (
        config.within_decay**within_from_end / group_len * config.group_decay**group_from_end / np.maximum(groups, 1)
    )
    return log.weighted(weight.astype(np.float64))


def nearest_neighbours(vectors: sp.csr_matrix, rows: np.ndarray, neighbours: int) -> np.ndarray:
    """(len(rows), n) customer indices of each row's n <= `neighbours` nearest customers, nearest first
    (Euclidean distance; the customer itself and customers without baskets are never neighbours)."""
    norms = np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel()
    pool = np.flatnonzero(norms > 0)
    k = min(neighbours, max(pool.size - 1, 0))
    if k == 0:
        return np.zeros((rows.size, 0), dtype=np.int64)
    # sparse queries x dense pool: the BLAS-free product that stays fast (sparse x sparse.T was 10x slower)
    pool_dense = vectors[pool].T.toarray().astype(np.float32)
    out = np.empty((rows.size, k), dtype=np.int64)
    for start in range(0, rows.size, 1024):  # bounded memory: 1024 x pool distances at a time
        chunk = rows[start : start + 1024]
        distance = norms[chunk][:, None] + norms[pool][None, :] - 2.0 * (vectors[chunk] @ pool_dense)
        distance[chunk[:, None] == pool[None, :]] = np.inf  # never one's own neighbour
        nearest = np.argpartition(distance, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(distance, nearest, axis=1), axis=1, kind="stable")
        out[start : start + chunk.size] = pool[np.take_along_axis(nearest, order, axis=1)]
    return out


def neighbour_mean(vectors: sp.csr_matrix, nearest: np.ndarray, neighbours: int) -> np.ndarray:
    """(queries, products) dense mean vector of the first `neighbours` columns of `nearest`."""
    chosen = nearest[:, :neighbours]
    if chosen.shape[1] == 0:
        return np.zeros((nearest.shape[0], vectors.shape[1]))
    weights = sp.csr_matrix(
        (np.full(chosen.size, 1.0 / chosen.shape[1]), (np.repeat(np.arange(chosen.shape[0]), chosen.shape[1]),
                                                        chosen.ravel())),
        shape=(chosen.shape[0], vectors.shape[0]),
    )  # fmt: skip
    return (weights @ vectors).toarray()


def tifu_scores(log: BasketLog, rows: np.ndarray, config: TifuKnnConfig) -> np.ndarray:
    """(len(rows), products) TIFU-KNN scores for the customers at `rows` of `log` (their history = the log)."""
    vectors = customer_vectors(log, config)
    own = vectors[rows].toarray()
    if config.alpha >= 1.0:
        return own
    nearest = nearest_neighbours(vectors, rows, config.neighbours)
    return config.alpha * own + (1.0 - config.alpha) * neighbour_mean(vectors, nearest, config.neighbours)
