"""Derived dunnhumby tables: one row per basket, one ordered basket sequence per known customer."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

BASKETS_SCHEMA = pa.schema(
    [
        ("SHOP_WEEK", pa.string()),
        ("BASKET_ID", pa.int64()),
        ("CUST_CODE", pa.string()),
        ("IS_ANONYMOUS", pa.bool_()),
        ("SHOP_DATE", pa.date32()),
        ("SHOP_WEEKDAY", pa.int8()),
        ("SHOP_HOUR", pa.int8()),
        ("STORE_CODE", pa.string()),
        ("STORE_FORMAT", pa.string()),
        ("STORE_REGION", pa.string()),
        ("BASKET_SIZE", pa.string()),
        ("BASKET_TYPE", pa.string()),
        ("BASKET_PRICE_SENSITIVITY", pa.string()),
        ("BASKET_DOMINANT_MISSION", pa.string()),
        ("CUST_PRICE_SENSITIVITY", pa.string()),
        ("CUST_LIFESTAGE", pa.string()),
        ("N_LINES", pa.int32()),
        ("N_ITEMS", pa.int32()),
        ("SPEND", pa.float64()),
        ("PRODUCTS", pa.list_(pa.string())),
        ("QUANTITIES", pa.list_(pa.int32())),
    ]
)

SEQUENCES_SCHEMA = pa.schema(
    [
        ("CUST_CODE", pa.string()),
        ("N_BASKETS", pa.int32()),
        ("FIRST_WEEK", pa.string()),
        ("LAST_WEEK", pa.string()),
        ("BASKET_IDS", pa.list_(pa.int64())),
        ("SHOP_WEEKS", pa.list_(pa.string())),
        ("SHOP_DATES", pa.list_(pa.date32())),
        ("BASKETS", pa.list_(pa.list_(pa.string()))),
    ]
)

# Attributes that describe the whole basket; the files repeat them on every line.
_BASKET_ATTRIBUTES = [
    "CUST_CODE", "IS_ANONYMOUS", "SHOP_WEEKDAY", "SHOP_HOUR", "STORE_CODE", "STORE_FORMAT", "STORE_REGION",
    "BASKET_SIZE", "BASKET_TYPE", "BASKET_PRICE_SENSITIVITY", "BASKET_DOMINANT_MISSION",
    "CUST_PRICE_SENSITIVITY", "CUST_LIFESTAGE",
]  # fmt: skip

# Order of a customer's baskets: by day, hour, then id (ids grow within a store's day).
BASKET_ORDER = ["SHOP_DATE", "SHOP_HOUR", "BASKET_ID"]
# The baskets-table columns `customer_sequences` and `histories_by_customer` read.
HISTORY_COLUMNS = ["SHOP_WEEK", "BASKET_ID", "CUST_CODE", "IS_ANONYMOUS", "SHOP_DATE", "SHOP_HOUR", "PRODUCTS"]


def baskets_from_lines(lines: pa.Table) -> pa.Table:
    """One row per (week, basket) with its products (by descending quantity) and totals."""
    frame = pl.from_arrow(lines)
    grouped = (
        frame.sort("SHOP_WEEK", "BASKET_ID", "QUANTITY", "PROD_CODE", descending=[False, False, True, False])
        .group_by("SHOP_WEEK", "BASKET_ID", maintain_order=True)
        .agg(
            pl.col("SHOP_DATE").min(),
            *[pl.col(c).first() for c in _BASKET_ATTRIBUTES],
            pl.len().alias("N_LINES"),
            pl.col("QUANTITY").sum().alias("N_ITEMS"),
            pl.col("SPEND").sum().round(2).alias("SPEND"),
            pl.col("PROD_CODE").alias("PRODUCTS"),
            pl.col("QUANTITY").alias("QUANTITIES"),
        )
    )
    return grouped.select(BASKETS_SCHEMA.names).to_arrow().cast(BASKETS_SCHEMA)


def customer_sequences(baskets: pa.Table) -> pa.Table:
    """Known customers' baskets in time order; anonymous baskets belong to no one and are left out."""
    frame = pl.from_arrow(baskets).filter(~pl.col("IS_ANONYMOUS"))
    sequences = (
        frame.sort(BASKET_ORDER)
        .group_by("CUST_CODE", maintain_order=True)
        .agg(
            pl.len().alias("N_BASKETS"),
            pl.col("SHOP_WEEK").first().alias("FIRST_WEEK"),
            pl.col("SHOP_WEEK").last().alias("LAST_WEEK"),
            pl.col("BASKET_ID").alias("BASKET_IDS"),
            pl.col("SHOP_WEEK").alias("SHOP_WEEKS"),
            pl.col("SHOP_DATE").alias("SHOP_DATES"),
            pl.col("PRODUCTS").alias("BASKETS"),
        )
        .sort("CUST_CODE")
    )
    return sequences.select(SEQUENCES_SCHEMA.names).to_arrow().cast(SEQUENCES_SCHEMA)


def histories_by_customer(baskets: pa.Table) -> dict[str, list[list[str]]]:
    """{customer: [basket products, ...]} in time order, from rows of the baskets table."""
    frame = pl.from_arrow(baskets).filter(~pl.col("IS_ANONYMOUS")).sort(BASKET_ORDER)
    grouped = frame.group_by("CUST_CODE", maintain_order=True).agg(pl.col("PRODUCTS"))
    return dict(zip(grouped["CUST_CODE"].to_list(), grouped["PRODUCTS"].to_list(), strict=True))
