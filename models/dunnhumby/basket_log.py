"""Known customers' baskets as sparse matrices, cut at a shop week: what every next-basket recommender reads.

The log holds every basket once, ordered by customer then time (`BASKET_ORDER`), with a basket x product
matrix over a product vocabulary. `before(week)` keeps the baskets of earlier weeks and `through(week)` those
up to and including it; each cut numbers a customer's baskets from the most recent (`position` 0), which is
what time-decayed models weight by.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import scipy.sparse as sp

from models.dunnhumby.baskets import BASKET_ORDER


@dataclass(frozen=True)
class BasketLog:
    customers: list[str]  # customer index -> CUST_CODE (every known customer of the table)
    products: list[str]  # product index -> PROD_CODE
    basket_customer: np.ndarray  # (baskets,) customer index, non-decreasing
    basket_week: np.ndarray  # (baskets,) shop week as int (200607)
    items: sp.csr_matrix  # (baskets, products) 1 where the basket holds the product
    position: np.ndarray  # (baskets,) 0 = the customer's most recent basket in this log
    length: np.ndarray  # (customers,) baskets per customer in this log

    @classmethod
    def from_baskets(cls, baskets: pa.Table | pl.DataFrame, products: Sequence[str] | None = None) -> BasketLog:
        """From rows of the baskets table (columns of `HISTORY_COLUMNS`); anonymous baskets are left out.
        Products outside a given vocabulary are dropped from the matrix (a served model knows only its own)."""
        frame = baskets if isinstance(baskets, pl.DataFrame) else pl.from_arrow(baskets)
        frame = frame.filter(~pl.col("IS_ANONYMOUS")).sort(["CUST_CODE", *BASKET_ORDER])
        return cls._from_ordered(frame, products)

    @classmethod
    def from_sequences(cls, sequences: pa.Table, products: Sequence[str] | None = None) -> BasketLog:
        """From rows of the customer sequences table (CUST_CODE, SHOP_WEEKS, BASKETS; already in time order)."""
        frame = (
            pl.from_arrow(sequences)
            .select("CUST_CODE", "SHOP_WEEKS", "BASKETS")
            .with_columns(pl.int_ranges(0, pl.col("BASKETS").list.len()).alias("ORDER"))
            .explode("SHOP_WEEKS", "BASKETS", "ORDER")
            .rename({"SHOP_WEEKS": "SHOP_WEEK", "BASKETS": "PRODUCTS"})
            .sort("CUST_CODE", "ORDER")
        )
        return cls._from_ordered(frame, products)

    @classmethod
    def _from_ordered(cls, frame: pl.DataFrame, products: Sequence[str] | None) -> BasketLog:
        customers = frame["CUST_CODE"].unique(maintain_order=True).to_list()
        if products is None:
            products = sorted(frame["PRODUCTS"].explode().drop_nulls().unique().to_list())
        index = {p: i for i, p in enumerate(products)}
        customer_index = {c: i for i, c in enumerate(customers)}
        basket_customer = np.array([customer_index[c] for c in frame["CUST_CODE"].to_list()], dtype=np.int64)
        rows, cols = [], []
        for row, basket in enumerate(frame["PRODUCTS"].to_list()):
            for p in set(basket):
                if (col := index.get(p)) is not None:
                    rows.append(row)
                    cols.append(col)
        items = sp.csr_matrix((np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=(frame.height, len(products)))
        weeks = frame["SHOP_WEEK"].cast(pl.Int64).to_numpy()
        return cls._cut(list(customers), list(products), basket_customer, weeks, items)

    @classmethod
    def _cut(
        cls, customers: list[str], products: list[str], basket_customer: np.ndarray, weeks: np.ndarray,
        items: sp.csr_matrix,
    ) -> BasketLog:  # fmt: skip
        length = np.bincount(basket_customer, minlength=len(customers))
        first = np.concatenate([[0], np.cumsum(length)[:-1]])
        rank = np.arange(basket_customer.size) - first[basket_customer]
        position = length[basket_customer] - 1 - rank
        return cls(customers, products, basket_customer, weeks, items, position, length)

    def _keep(self, mask: np.ndarray) -> BasketLog:
        return self._cut(self.customers, self.products, self.basket_customer[mask], self.basket_week[mask],
                         self.items[mask])  # fmt: skip

    def before(self, week: str | int) -> BasketLog:
        return self._keep(self.basket_week < int(week))

    def through(self, week: str | int) -> BasketLog:
        return self._keep(self.basket_week <= int(week))

    @property
    def weeks(self) -> list[str]:
        return [str(w) for w in np.unique(self.basket_week)]

    def counts(self) -> sp.csr_matrix:
        """(customers, products): in how many of the customer's baskets each product is."""
        return self.weighted(np.ones(self.basket_customer.size))

    def weighted(self, basket_weight: np.ndarray) -> sp.csr_matrix:
        """(customers, products): sum over each customer's baskets of weight x basket."""
        owner = sp.csr_matrix(
            (basket_weight, (self.basket_customer, np.arange(self.basket_customer.size))),
            shape=(len(self.customers), self.basket_customer.size),
        )
        return (owner @ self.items).tocsr()

    def popularity(self) -> np.ndarray:
        """(products,) number of baskets holding each product (G-TopFreq's order)."""
        return np.asarray(self.items.sum(axis=0)).ravel()

    def customer_rows(self, codes: Sequence[str]) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.customers)}
        return np.array([index[c] for c in codes], dtype=np.int64)
