"""Real purchase histories (dunnhumby, ../shared/data) written into the store-database layout and read back through
the production readers: valid store databases, baskets in a seeded (not product-code) order, the loyalty number as
the entity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from foundation.resources import StorageResource
from models.retail.sequences import as_arrays, leakage_counts, split_examples
from sandbox.retail_real import build_real_store_databases, entity_transactions, read_lines
from scrapers.retail.store_schema import CUSTOMER, TRANSACTION_ENTRY
from scrapers.retail.stores import StoreDatabases, read_catalogue, read_customers

WEEKS = range(200607, 200613)  # five weeks (200608 is missing in the source)


@pytest.mark.real_data
def test_real_baskets_become_valid_store_databases(shared_data, tmp_path) -> None:
    source = shared_data / "dunnhumby"
    urls = build_real_store_databases(tmp_path / "stores", source, weeks=WEEKS, largest_stores=4, seed=1)
    assert len(urls) == 4 and all(key.startswith("store_") for key in urls)
    databases = StoreDatabases(urls)
    quarantine = StorageResource(root_uri=str(tmp_path / "root")).quarantine("retail_transactions")
    tx = entity_transactions(databases, quarantine)
    catalogue = read_catalogue(databases, quarantine)
    assert quarantine.count == 0  # no orphan transactions, no catalogue conflicts between stores

    # Every customer line of those stores and weeks is there, as it is in the source.
    lines = read_lines(source, WEEKS)
    codes = {f"STORE{int(key.split('_')[1]):05d}" for key in urls}
    mine = lines.filter(lines["STORE_CODE"].is_in(list(codes))).to_pandas()
    assert len(tx) == len(mine) and tx["quantity"].sum() == pytest.approx(mine["QUANTITY"].sum())
    assert tx["price"].mul(tx["quantity"]).sum() == pytest.approx(mine["SPEND"].sum(), rel=1e-3)
    assert set(tx["item_id"]) <= set(catalogue["item_id"]) and catalogue["item_id"].is_unique
    assert (
        catalogue["department_name"].str.startswith("DEP").all() and catalogue["brand_code"].str.startswith("CL").all()
    )
    # Customers: one record per store they shopped in, the loyalty number as the entity across stores; no names,
    # so the production reader quarantines them as having no identity (they never reach the linkage).
    store = sorted(urls)[0]
    raw = databases.read(store, sa.select(CUSTOMER))
    assert (raw["ID"] == raw["OldCustomerID"]).all() and raw[["FirstName", "EmailAddress"]].isna().all().all()
    assert read_customers(databases, store, quarantine).empty and quarantine.reasons() == {"no_identity": len(raw)}
    assert (tx["entity_id"] == tx["customer_id"].astype(str)).all()  # the loyalty number, the same in every store
    # A basket's lines share a time; their order is a seeded draw, not the source's product-code order.
    entries = databases.read(store, sa.select(TRANSACTION_ENTRY)).sort_values("ID")
    baskets = entries.groupby(["CustomerID", "TransactionTime"])["ItemID"]
    sorted_share = baskets.apply(lambda s: bool((np.diff(s.to_numpy()) > 0).all())).mean()
    assert sorted_share < 0.5, sorted_share

    # The sequence examples of the pipeline come out of them without leakage.
    split = split_examples(tx)
    parts = {name: as_arrays(examples) for name, examples in split.parts().items()}
    assert split.stats.test_examples == split.stats.validation_examples > 50
    assert not any(leakage_counts(parts["train"], parts["test"], parts["validation"]).values())
    assert pd.api.types.is_datetime64_any_dtype(tx["transaction_time"])
