"""Reading the store databases into rows of the retail Delta tables.

`StoreDatabases` maps a store partition key to a SQLAlchemy URL (`{password}` in a URL is filled from
`password`, which never reaches logs: `safe_url` hides it). Reads retry `OperationalError` (dropped
connections, restarting servers) three times with back-off, then fail loudly. Rows that cannot be used
(customers without any identity field, transactions of unknown customers or items, missing fields, items
that differ between stores) go to the quarantine with their reason instead of the tables.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from foundation.retries import retrying
from foundation.storage.quarantine import Quarantine
from scrapers.retail.store_schema import BRAND_CODE, CUSTOMER, DEPARTMENT, ITEM, TRANSACTION_ENTRY, record_key

TS = pa.timestamp("us", tz="UTC")
CUSTOMERS_SCHEMA = pa.schema(
    [
        ("store_id", pa.string()),
        ("customer_id", pa.int64()),
        ("record_key", pa.string()),
        ("first_name", pa.string()),
        ("last_name", pa.string()),
        ("company", pa.string()),
        ("address", pa.string()),
        ("address2", pa.string()),
        ("city", pa.string()),
        ("state", pa.string()),
        ("zip", pa.string()),
        ("phone_number", pa.string()),
        ("email_address", pa.string()),
        ("referral_code", pa.string()),
        ("total_sales", pa.float64()),
        ("total_savings", pa.float64()),
        ("total_visits", pa.int64()),
        ("last_visit", TS),
    ]
)
TRANSACTIONS_SCHEMA = pa.schema(
    [
        ("store_id", pa.string()),
        ("transaction_id", pa.int64()),
        ("customer_id", pa.int64()),
        ("record_key", pa.string()),
        ("item_id", pa.int64()),
        ("transaction_time", TS),
        ("price", pa.float64()),
        ("full_price", pa.float64()),
        ("quantity", pa.float64()),
        ("department_id", pa.int64()),
        ("discount_id", pa.int64()),
        ("return_id", pa.int64()),
        ("brand_code", pa.string()),
    ]
)
CATALOGUE_SCHEMA = pa.schema(
    [
        ("item_id", pa.int64()),
        ("description", pa.string()),
        ("full_price", pa.float64()),
        ("department_id", pa.int64()),
        ("department_name", pa.string()),
        ("brand_code", pa.string()),
        ("brand_name", pa.string()),
    ]
)
READ_ATTEMPTS = 3
FIRST_RETRY_WAIT = 0.5


class StoreDatabases:
    """The store databases: partition key -> SQLAlchemy URL (`{password}` is filled from `password`)."""

    def __init__(self, store_urls: Mapping[str, str], password: str | None = None) -> None:
        self.store_urls = dict(store_urls)
        self.password = password

    def url(self, store: str) -> sa.URL:
        """The store's URL with the password set as a field, never pasted into the string: a password such as
        `Can@ary/x` pasted raw would parse as password `Can`, host `ary`."""
        if store not in self.store_urls:
            raise KeyError(f"no database configured for store {store!r}; known: {sorted(self.store_urls)}")
        template = self.store_urls[store]
        url = sa.make_url(template)
        if "{password}" not in template:
            return url
        if url.password != "{password}":
            raise ValueError(f"store {store}: {{password}} must be the whole password field of its URL")
        if not self.password:
            raise ValueError(f"store {store} needs RETAIL_DB_PASSWORD")
        return url.set(password=self.password)  # sa.URL escapes it wherever it is rendered

    def engine(self, store: str) -> sa.Engine:
        return sa.create_engine(self.url(store), pool_pre_ping=True)

    def safe_url(self, store: str) -> str:
        """The URL without its password, for logs and metadata."""
        return sa.make_url(self.store_urls[store].replace("{password}", "***")).render_as_string(hide_password=True)

    def read(self, store: str, query: sa.Select) -> pd.DataFrame:
        # Connections drop and servers restart: retry transient errors a few times, then fail loudly.
        engine = self.engine(store)

        def read_once() -> pd.DataFrame:
            with engine.connect() as conn:
                return pd.read_sql(query, conn)

        try:
            return retrying(sa.exc.OperationalError, attempts=READ_ATTEMPTS, first_wait=FIRST_RETRY_WAIT)(read_once)
        finally:
            engine.dispose()

    def has_table(self, store: str, table: str) -> bool:
        engine = self.engine(store)
        try:
            return sa.inspect(engine).has_table(table)
        finally:
            engine.dispose()

    def watermark(self, store: str) -> str:
        """What changes when the store has new data: highest transaction id and customer count."""
        frame = self.read(
            store,
            sa.select(
                sa.select(sa.func.max(TRANSACTION_ENTRY.c.ID)).scalar_subquery().label("max_tx"),
                sa.select(sa.func.count()).select_from(CUSTOMER).scalar_subquery().label("customers"),
            ),
        )
        return f"{frame['max_tx'].iloc[0]}:{frame['customers'].iloc[0]}"


def _utc(series: pd.Series) -> pd.Series:
    values = pd.to_datetime(series, errors="coerce")
    return values.dt.tz_localize("UTC") if values.dt.tz is None else values.dt.tz_convert("UTC")


def _blank(series: pd.Series) -> pd.Series:
    return series.isna() | (series.astype(str).str.strip() == "")


def read_customers(databases: StoreDatabases, store: str, quarantine: Quarantine) -> pd.DataFrame:
    """One store's `Customer` rows in the `CUSTOMERS_SCHEMA` layout; records without any identity are rejected."""
    raw = databases.read(store, sa.select(CUSTOMER))
    identity = ["FirstName", "LastName", "PhoneNumber", "EmailAddress", "Address"]
    nameless = np.logical_and.reduce([_blank(raw[c]) for c in identity])
    for _, row in raw[nameless].iterrows():
        quarantine.reject(
            row.to_json(), "no_identity: no name, address, phone or e-mail", f"{store}/Customer/{row['ID']}"
        )
    raw = raw[~nameless]
    return pd.DataFrame(
        {
            "store_id": store,
            "customer_id": raw["ID"].astype("int64"),
            "record_key": [record_key(store, i) for i in raw["ID"]],
            "first_name": raw["FirstName"],
            "last_name": raw["LastName"],
            "company": raw["Company"],
            "address": raw["Address"],
            "address2": raw["Address2"],
            "city": raw["City"],
            "state": raw["State"],
            "zip": raw["Zip"],
            "phone_number": raw["PhoneNumber"],
            "email_address": raw["EmailAddress"],
            "referral_code": raw["ReferralCode"],
            "total_sales": pd.to_numeric(raw["TotalSales"]).astype(float),
            "total_savings": pd.to_numeric(raw["TotalSavings"]).astype(float),
            "total_visits": pd.to_numeric(raw["TotalVisits"]).astype("Int64"),
            "last_visit": _utc(raw["LastVisit"]),
        }
    )


def read_transactions(databases: StoreDatabases, store: str, quarantine: Quarantine) -> pd.DataFrame:
    """One store's `TransactionEntry` rows with the item's brand code (`TRANSACTIONS_SCHEMA` layout);
    transactions of unknown customers or items, or with missing fields, are rejected."""
    te, item, customer = TRANSACTION_ENTRY, ITEM, CUSTOMER
    query = sa.select(
        te, item.c.BinLocation.label("BrandCode"), item.c.ID.label("KnownItem"), customer.c.ID.label("KnownCustomer")
    ).select_from(te.outerjoin(item, te.c.ItemID == item.c.ID).outerjoin(customer, te.c.CustomerID == customer.c.ID))
    raw = databases.read(store, query)
    problems = {
        "unknown_customer": raw["KnownCustomer"].isna(),
        "unknown_item": raw["KnownItem"].isna(),
        "missing_field": raw[["TransactionTime", "Quantity", "Price"]].isna().any(axis=1),
    }
    bad = np.zeros(len(raw), dtype=bool)
    for reason, mask in problems.items():
        mask = mask.to_numpy() & ~bad
        for _, row in raw[mask].iterrows():
            quarantine.reject(
                row.to_json(), f"{reason}: transaction {row['ID']}", f"{store}/TransactionEntry/{row['ID']}"
            )
        bad |= mask
    raw = raw[~bad]
    return pd.DataFrame(
        {
            "store_id": store,
            "transaction_id": raw["ID"].astype("int64"),
            "customer_id": raw["CustomerID"].astype("int64"),
            "record_key": [record_key(store, i) for i in raw["CustomerID"]],
            "item_id": raw["ItemID"].astype("int64"),
            "transaction_time": _utc(raw["TransactionTime"]),
            "price": pd.to_numeric(raw["Price"]).astype(float),
            "full_price": pd.to_numeric(raw["FullPrice"]).astype(float),
            "quantity": raw["Quantity"].astype(float),
            "department_id": raw["DepartmentID"].astype("int64"),
            "discount_id": raw["DiscountID"].fillna(0).astype("int64"),
            "return_id": raw["ReturnID"].fillna(0).astype("int64"),
            "brand_code": raw["BrandCode"].fillna(""),
        }
    )


def read_catalogue(databases: StoreDatabases, quarantine: Quarantine) -> pd.DataFrame:
    """The chain-wide catalogue (Item + Department + BrandCode, `CATALOGUE_SCHEMA` layout) merged over every
    store: the first store's row of an item wins; an item whose description or price differs elsewhere is
    rejected as `catalogue_conflict`."""
    item, dept, brand = ITEM, DEPARTMENT, BRAND_CODE
    query = sa.select(
        item.c.ID.label("item_id"),
        item.c.Description.label("description"),
        item.c.FullPrice.label("full_price"),
        item.c.DepartmentID.label("department_id"),
        dept.c.DepartmentName.label("department_name"),
        item.c.BinLocation.label("brand_code"),
        brand.c.BrandName.label("brand_name"),
    ).select_from(
        item.outerjoin(dept, item.c.DepartmentID == dept.c.ID).outerjoin(brand, item.c.BinLocation == brand.c.BrandCode)
    )
    merged: pd.DataFrame | None = None
    for store in sorted(databases.store_urls):
        frame = databases.read(store, query)
        frame["full_price"] = pd.to_numeric(frame["full_price"]).astype(float)
        if merged is None:
            merged = frame
            continue
        both = merged.merge(frame, on="item_id", suffixes=("", "_other"))
        conflict = (both["description"] != both["description_other"]) | (
            (both["full_price"] - both["full_price_other"]).abs() > 0.005
        )
        for _, row in both[conflict].iterrows():
            quarantine.reject(row.to_json(), f"catalogue_conflict: item {row['item_id']} differs in {store}", store)
        merged = pd.concat([merged, frame[~frame["item_id"].isin(merged["item_id"])]])
    if merged is None:
        raise ValueError("no store databases configured")
    merged = merged.sort_values("item_id")
    merged["department_id"] = merged["department_id"].fillna(0).astype("int64")
    merged["brand_code"] = merged["brand_code"].fillna("")
    return merged
