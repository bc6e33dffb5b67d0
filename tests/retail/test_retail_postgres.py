"""The same ingestion, dedup and entity merge against a real PostgreSQL server (Debian's postgresql, started here).

Skips with a reason when the server binaries are not installed (`apt-get install postgresql`); under CI=true it
fails instead (`make setup` installs them).
The store URLs look like production ones: `postgresql+psycopg://storefront:{password}@host:port/store_1`,
with the password supplied separately (RETAIL_DB_PASSWORD in deployments).
"""

from __future__ import annotations

import dagster as dg
import pytest
import sqlalchemy as sa

from assets.retail.definitions import defs
from assets.retail.partitions import store_partitions
from assets.retail.resources import RetailStoresResource
from assets.retail.tables import CUSTOMER_ENTITIES, ENTITY_TRANSACTIONS, STORE_CUSTOMERS
from sandbox.retail import generate_world, match_quality, planted_truth, write_store
from tests.postgres_cluster import PASSWORD, PostgresCluster


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (tests/conftest.py); a URL template with {password} and {db}."""
    return postgres_cluster.url_template


@pytest.mark.slow
def test_ingestion_and_dedup_on_postgres(postgres_url: str, instance, storage) -> None:
    world = generate_world(n_people=300, n_stores=2, n_items=60, seed=9)
    admin = sa.create_engine(postgres_url.format(password=PASSWORD, db="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for store in ("store_1", "store_2"):
            conn.execute(sa.text(f"CREATE DATABASE {store}"))
    admin.dispose()
    urls = {}
    for number, store in enumerate(("store_1", "store_2"), start=1):
        write_store(postgres_url.format(password=PASSWORD, db=store), world, number, seed=9)
        urls[store] = postgres_url.replace("{db}", store)  # keeps the {password} placeholder

    stores = RetailStoresResource(store_urls=urls, password=PASSWORD)
    assert PASSWORD not in stores.databases().safe_url("store_1")
    instance.add_dynamic_partitions(store_partitions.name, list(urls))
    all_assets = [*defs.assets, *defs.asset_checks]
    resources = {"storage": storage, "retail_stores": stores}
    ingest = dg.materialize(
        all_assets,
        selection=["store_customers", "store_transactions"],
        instance=instance,
        resources=resources,
        tags={"dagster/asset_partition_range_start": "store_1", "dagster/asset_partition_range_end": "store_2"},
    )
    assert ingest.success
    customers = STORE_CUSTOMERS.store(storage).read()
    assert customers.num_rows == len(world.customers)  # the planted identity-less rows are quarantined
    linkage = dg.materialize(
        all_assets, selection=["retail_catalogue", "customer_entities"], instance=instance, resources=resources
    )
    assert linkage.success
    assert all(e.passed for e in linkage.get_asset_check_evaluations())
    # The planted truth, read from the PostgreSQL databases through the same reader as ingestion.
    quality = match_quality(CUSTOMER_ENTITIES.store(storage).read().to_pandas(), planted_truth(stores.databases()))
    assert quality["f1"] >= 0.95, quality
    merged = dg.materialize(
        all_assets,
        selection=["retail_transactions"],
        instance=instance,
        resources=resources,
        tags={"dagster/asset_partition_range_start": "store_1", "dagster/asset_partition_range_end": "store_2"},
    )
    assert merged.success
    tx = ENTITY_TRANSACTIONS.store(storage).read()
    assert tx.num_rows == len(world.transactions[world.transactions["StoreID"] <= 2])  # orphans quarantined
    assert tx.column("entity_id").null_count == 0


def test_a_password_with_url_characters_reaches_postgres_intact(postgres_url: str) -> None:
    """Issue 16 item 9: the password is a URL field (escaped), not pasted into the string, so `Can@ary/x`
    is not read as password `Can`, host `ary`."""
    hostile = "Can@ary/x:%#?&= "
    admin = sa.create_engine(postgres_url.format(password=PASSWORD, db="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        # Literal SQL (ALTER ROLE takes no bind parameters); "%%" because psycopg formats "%" even without any.
        connection.exec_driver_sql(f"ALTER ROLE storefront PASSWORD '{hostile.replace('%', '%%')}'")
    admin.dispose()
    stores = RetailStoresResource(store_urls={"store_1": postgres_url.replace("{db}", "postgres")}, password=hostile)
    databases = stores.databases()
    url = databases.url("store_1")
    assert (url.username, url.password, url.host, url.database) == ("storefront", hostile, "127.0.0.1", "postgres")
    engine = databases.engine("store_1")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT current_user").scalar() == "storefront"
    engine.dispose()
    assert hostile not in databases.safe_url("store_1") and "Can" not in databases.safe_url("store_1")
