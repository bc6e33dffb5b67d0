"""Real purchase histories in the store-database layout: dunnhumby "Let's get sort of real" as retail stores.

The generated stores' purchases are first-order Markov by construction, so the last-item transition table is
close to optimal there. This writes real grocery baskets (`../shared/data/dunnhumby`, 44 weeks, 5,000-customer
sample) into the production layout (`scrapers/retail/store_schema.py`), one SQLite database per `STORE_CODE`,
so retrieval can be measured where no model is optimal by construction. Data as it is, mapped field by field:

| store layout | from dunnhumby |
|---|---|
| store key `store_<n>`, `Customer.StoreID` | `STORE_CODE` (`STORE00150` -> `store_150`, 150) |
| `Customer.ID`, `Customer.OldCustomerID` | the number of `CUST_CODE` (`CUST0000410727` -> 410727): a loyalty card, the same in every store |
| `Customer.TotalVisits`, `TotalSales`, `LastVisit` | the customer's baskets, spend and last shop date in that store |
| `Item.ID`, `Item.Description` | the number of `PROD_CODE` (`PRD0900033` -> 900033), the code itself |
| `Item.FullPrice` | the product's median unit price (`SPEND / QUANTITY`) over all weeks |
| `Item.DepartmentID`, `Department` | `PROD_CODE_20` (`DEP00067` -> 67, named by its code) |
| `Item.BinLocation` (brand code), `BrandCode` | `PROD_CODE_10`, the product class (no brands in the data) |
| `TransactionEntry` | one row per basket line: `SHOP_DATE` + `SHOP_HOUR`, unit price, `QUANTITY`, the item's department |

Baskets have no column in the layout: a basket's lines share customer, store and time. The source lists lines
sorted by product code; within a basket they get a seeded random order (`seed`), or a sequence model would learn
the product-code order. Anonymous baskets (no `CUST_CODE`, about 20% of lines) have no customer to belong to and
are left out, as are lines with no positive quantity. Customers carry no names or contacts (the data has none),
so the production reader `read_customers` quarantines them as `no_identity`; the loyalty number in
`OldCustomerID` is the entity instead of record linkage (`entity_transactions`). Only the products a store sold
are in its `Item` table (the chain-wide catalogue, `read_catalogue`, is their union, identical across stores).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import sqlalchemy as sa

from foundation.storage.quarantine import Quarantine
from scrapers.retail.store_schema import BRAND_CODE, CUSTOMER, DEPARTMENT, ITEM, TRANSACTION_ENTRY, metadata
from scrapers.retail.stores import StoreDatabases, read_transactions

SOURCE_COLUMNS = (
    "SHOP_WEEK",
    "SHOP_DATE",
    "SHOP_HOUR",
    "QUANTITY",
    "SPEND",
    "PROD_CODE",
    "PROD_CODE_10",
    "PROD_CODE_20",
    "CUST_CODE",
    "BASKET_ID",
    "STORE_CODE",
)


def _number(column: str, prefix_chars: int) -> pl.Expr:
    return pl.col(column).str.slice(prefix_chars).cast(pl.Int64)


def read_lines(data_dir: str | Path, weeks: Iterable[int] | None = None) -> pl.DataFrame:
    """Basket lines of customers (anonymous baskets and lines without a positive quantity left out)."""
    files = sorted(Path(data_dir).glob("transactions_*.csv.gz"))
    if weeks is not None:
        wanted = {int(w) for w in weeks}
        files = [f for f in files if int(f.name[len("transactions_") : -len(".csv.gz")]) in wanted]
    if not files:
        raise FileNotFoundError(f"no dunnhumby week files in {data_dir} for weeks {weeks}")
    frames = [pl.read_csv(f, columns=list(SOURCE_COLUMNS), infer_schema_length=0) for f in files]
    lines = pl.concat(frames).filter(pl.col("CUST_CODE").is_not_null() & (pl.col("CUST_CODE") != ""))
    return lines.with_columns(
        pl.col("QUANTITY").cast(pl.Float64),
        pl.col("SPEND").cast(pl.Float64),
        pl.col("SHOP_HOUR").cast(pl.Int64),
    ).filter(pl.col("QUANTITY") > 0)


def store_key(store_code: str) -> str:
    return f"store_{int(store_code[len('STORE') :])}"


def build_real_store_databases(
    directory: str | Path,
    data_dir: str | Path,
    weeks: Iterable[int] | None = None,
    largest_stores: int | None = None,
    seed: int = 0,
) -> dict[str, str]:
    """Write one `store_<n>.sqlite` per `STORE_CODE` (only the `largest_stores` busiest when given; every week, or
    `weeks`); returns {store partition key: SQLAlchemy URL}."""
    lines = read_lines(data_dir, weeks)
    if largest_stores is not None:
        busiest = lines.group_by("STORE_CODE").len().sort(["len", "STORE_CODE"], descending=[True, False])
        lines = lines.filter(pl.col("STORE_CODE").is_in(busiest["STORE_CODE"].head(largest_stores).to_list()))
    unit_price = (pl.col("SPEND") / pl.col("QUANTITY")).round(4)
    items = (
        lines.with_columns(unit_price.alias("unit"))
        .group_by("PROD_CODE")
        .agg(pl.col("unit").median().round(2).alias("FullPrice"), pl.first("PROD_CODE_10"), pl.first("PROD_CODE_20"))
        .with_columns(_number("PROD_CODE", 3).alias("ID"), _number("PROD_CODE_20", 3).alias("DepartmentID"))
    )
    # A seeded random order of the lines within a basket: the files list them by product code.
    rng = np.random.default_rng(seed)
    lines = (
        lines.with_columns(
            pl.Series("draw", rng.random(lines.height)),
            _number("CUST_CODE", 4).alias("CustomerID"),
            _number("PROD_CODE", 3).alias("ItemID"),
            (pl.col("SHOP_DATE").str.to_datetime("%Y%m%d") + pl.duration(hours=pl.col("SHOP_HOUR"))).alias(
                "TransactionTime"
            ),
            unit_price.alias("Price"),
        )
        .join(items.select("PROD_CODE", "FullPrice", "DepartmentID"), on="PROD_CODE")
        .sort(["STORE_CODE", "TransactionTime", "BASKET_ID", "draw"])
    )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    urls = {}
    for (store_code,), store_lines in lines.group_by(["STORE_CODE"], maintain_order=True):
        key = store_key(str(store_code))
        urls[key] = f"sqlite:///{directory / f'{key}.sqlite'}"
        _write_store(urls[key], int(key.split("_")[1]), store_lines, items)
    return urls


def _write_store(url: str, store_id: int, lines: pl.DataFrame, items: pl.DataFrame) -> None:
    sold = items.filter(pl.col("PROD_CODE").is_in(lines["PROD_CODE"].unique().to_list()))
    customers = (
        lines.group_by("CustomerID")
        .agg(
            pl.col("BASKET_ID").n_unique().alias("TotalVisits"),
            pl.col("SPEND").sum().round(4).alias("TotalSales"),
            pl.col("TransactionTime").max().alias("LastVisit"),
        )
        .sort("CustomerID")
    )
    engine = sa.create_engine(url)
    try:
        metadata.drop_all(engine)
        metadata.create_all(engine)
        with engine.begin() as conn:
            departments = sold.select("DepartmentID", "PROD_CODE_20").unique("DepartmentID").sort("DepartmentID")
            conn.execute(
                DEPARTMENT.insert(),
                [{"ID": d, "DepartmentName": n} for d, n in departments.iter_rows()],
            )
            conn.execute(
                BRAND_CODE.insert(),
                [{"BrandCode": c, "BrandName": c} for c in sorted(sold["PROD_CODE_10"].unique().to_list())],
            )
            conn.execute(
                ITEM.insert(),
                [
                    {"ID": i, "Description": code, "FullPrice": price, "BinLocation": cls, "DepartmentID": dept}
                    for i, code, price, cls, dept in sold.select(
                        "ID", "PROD_CODE", "FullPrice", "PROD_CODE_10", "DepartmentID"
                    ).iter_rows()
                ],
            )
            conn.execute(
                CUSTOMER.insert(),
                [
                    {
                        "ID": c,
                        "StoreID": store_id,
                        "OldCustomerID": c,
                        "TotalVisits": visits,
                        "TotalSales": sales,
                        "TotalSavings": 0.0,
                        "LastVisit": last,
                    }
                    for c, visits, sales, last in customers.iter_rows()
                ],
            )
            entries = lines.select(
                "CustomerID", "ItemID", "TransactionTime", "Price", "FullPrice", "QUANTITY", "DepartmentID"
            )
            conn.execute(
                TRANSACTION_ENTRY.insert(),
                [
                    {
                        "ID": n,
                        "CustomerID": c,
                        "ItemID": i,
                        "TransactionTime": t,
                        "Price": p,
                        "FullPrice": f,
                        "Quantity": q,
                        "DepartmentID": d,
                        "DiscountID": 0,
                        "ReturnID": 0,
                    }
                    for n, (c, i, t, p, f, q, d) in enumerate(entries.iter_rows(), start=1)
                ],
            )
    finally:
        engine.dispose()


def loyalty_numbers(databases: StoreDatabases, store: str) -> pd.DataFrame:
    """record_key -> entity id (the loyalty number in `OldCustomerID`) of one store's customers."""
    raw = databases.read(store, sa.select(CUSTOMER.c.ID, CUSTOMER.c.OldCustomerID))
    return pd.DataFrame(
        {"record_key": [f"{store}:{i}" for i in raw["ID"]], "entity_id": raw["OldCustomerID"].astype(str)}
    )


def entity_transactions(databases: StoreDatabases, quarantine: Quarantine) -> pd.DataFrame:
    """Every store's transactions through the production reader, under loyalty-number entity ids (the
    `retail_transactions` layout the sequence examples are made from)."""
    frames = []
    for store in sorted(databases.store_urls):
        tx = read_transactions(databases, store, quarantine)
        entities = loyalty_numbers(databases, store)
        frames.append(tx.merge(entities, on="record_key", how="left", validate="many_to_one"))
    frame = pd.concat(frames, ignore_index=True)
    if frame["entity_id"].isna().any():
        raise ValueError(f"{int(frame['entity_id'].isna().sum())} transactions without a customer entity")
    return frame
