"""The store databases' table layout: SQLAlchemy Core tables in the original schema.

Every store is one SQL database (SQLite or PostgreSQL; any SQLAlchemy URL) with `Customer`, `Item`,
`Department`, `BrandCode` and `TransactionEntry`. Ingestion reads through these tables; the sandbox
generator writes its stand-in databases with them. Store partition keys are `store_<n>`, and a customer
record is identified chain-wide by `record_key` = `<store key>:<Customer.ID>`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()
CUSTOMER = sa.Table(
    "Customer",
    metadata,
    sa.Column("ID", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("Zip", sa.String(15)),
    sa.Column("StoreID", sa.Integer),
    sa.Column("OldCustomerID", sa.Integer),
    sa.Column("BirthMonth", sa.Integer),
    sa.Column("TotalSales", sa.Numeric(19, 4)),
    sa.Column("TotalSavings", sa.Numeric(19, 4)),
    sa.Column("TotalVisits", sa.Integer),
    sa.Column("LastVisit", sa.DateTime),
    sa.Column("ReferralCode", sa.String(50)),
    sa.Column("Company", sa.String(50)),
    sa.Column("FirstName", sa.String(50)),
    sa.Column("LastName", sa.String(50)),
    sa.Column("Address", sa.String(50)),
    sa.Column("Address2", sa.String(50)),
    sa.Column("City", sa.String(50)),
    sa.Column("State", sa.String(50)),
    sa.Column("PhoneNumber", sa.String(50)),
    sa.Column("EmailAddress", sa.String(255)),
)
DEPARTMENT = sa.Table(
    "Department",
    metadata,
    sa.Column("ID", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("DepartmentName", sa.String(50)),
)
BRAND_CODE = sa.Table(
    "BrandCode",
    metadata,
    sa.Column("BrandCode", sa.String(20), primary_key=True),
    sa.Column("BrandName", sa.String(50)),
)
ITEM = sa.Table(
    "Item",
    metadata,
    sa.Column("ID", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("Description", sa.String(30)),
    sa.Column("FullPrice", sa.Numeric(19, 4)),
    sa.Column("BinLocation", sa.String(20)),
    sa.Column("DepartmentID", sa.Integer),
)
TRANSACTION_ENTRY = sa.Table(
    "TransactionEntry",
    metadata,
    sa.Column("ID", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("CustomerID", sa.Integer, nullable=False),
    sa.Column("ItemID", sa.Integer, nullable=False),
    sa.Column("TransactionTime", sa.DateTime),
    sa.Column("Price", sa.Numeric(19, 4)),
    sa.Column("FullPrice", sa.Numeric(19, 4)),
    sa.Column("Quantity", sa.Float),
    sa.Column("DepartmentID", sa.Integer, nullable=False),
    sa.Column("DiscountID", sa.Integer),
    sa.Column("ReturnID", sa.Integer),
)


def store_keys(n_stores: int) -> list[str]:
    """Partition keys of the first `n_stores` stores: `store_1`, `store_2`, ..."""
    return [f"store_{i}" for i in range(1, n_stores + 1)]


def record_key(store: str, customer_id: Any) -> str:
    """A customer record's chain-wide key: `<store key>:<Customer.ID>`."""
    return f"{store}:{int(customer_id)}"
