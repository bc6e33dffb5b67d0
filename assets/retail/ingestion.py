"""Bringing the store databases in: customers and transactions per store, the chain-wide catalogue.

A store database that returns no rows (or under half of what its partition holds) fails the run instead of
emptying the partition (the shrink guard of `DeltaStore.overwrite`); `allow_shrink` in the run config, or the
run tag `storefront/allow_shrink=true`, lets an operator accept a real loss.
"""

from collections.abc import Callable

import dagster as dg
import pandas as pd

from assets.retail.partitions import store_partitions
from assets.retail.resources import RetailStoresResource
from assets.retail.tables import (
    CATALOGUE,
    CATALOGUE_QUARANTINE,
    CUSTOMERS_QUARANTINE,
    STORE_CUSTOMERS,
    STORE_TRANSACTIONS,
    TRANSACTIONS_QUARANTINE,
    to_arrow,
)
from foundation.landing import fingerprint_metadata
from foundation.resources import StorageResource
from foundation.run_config import IngestionConfig, shrink_allowed
from foundation.storage.delta_tables import ShrinkRefused, Window
from foundation.storage.quarantine import Quarantine
from foundation.tables import DeltaTableSpec
from scrapers.retail.stores import StoreDatabases, read_catalogue, read_customers, read_transactions

MAX_REJECT_SHARE = 0.05


def _ingest_stores(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    retail_stores: RetailStoresResource,
    read: Callable[[StoreDatabases, str, Quarantine], pd.DataFrame],
    quarantine_source: str,
    table: DeltaTableSpec,
    allow_shrink: bool = False,
) -> dg.MaterializeResult:
    """Read one table from each store database of the run's partitions into its Delta window."""
    databases = retail_stores.databases()
    frames, meta, watermarks = [], {}, {}
    for store in context.partition_keys:
        # Before reading: the store sensor skips stores whose watermark is recorded here (foundation/landing.py).
        watermarks[store] = databases.watermark(store)
        quarantine = storage.quarantine(quarantine_source, store)
        frame = read(databases, store, quarantine)
        # Committed before the share check, so a store that fails it still leaves its rejects to look at.
        meta |= {f"{store}/{k}": v for k, v in quarantine.commit(context.run_id).items()}
        quarantine.check_share(len(frame) + quarantine.count, MAX_REJECT_SHARE)
        meta[f"{store}/source"] = databases.safe_url(store)
        frames.append(frame)
    try:
        result = table.store(storage).overwrite(
            to_arrow(table, pd.concat(frames)), Window.of("store_id", *context.partition_keys), allow_shrink
        )
    except ShrinkRefused as error:  # e.g. a store database that answered with no rows: keep what is stored
        raise dg.Failure(
            description=str(error),
            metadata={"shrunk": dg.MetadataValue.json({k: list(v) for k, v in error.shrunk.items()}), **meta},
        ) from error
    return dg.MaterializeResult(metadata=result.metadata() | meta | fingerprint_metadata(watermarks))


@dg.asset(
    partitions_def=store_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="retail",
    kinds={"sql", "delta"},
    description="Customer records of every store database in one Delta table (partition = store).",
)
def store_customers(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    retail_stores: RetailStoresResource,
    config: IngestionConfig,
) -> dg.MaterializeResult:
    return _ingest_stores(
        context,
        storage,
        retail_stores,
        read_customers,
        CUSTOMERS_QUARANTINE,
        STORE_CUSTOMERS,
        shrink_allowed(context, config),
    )


@dg.asset(
    partitions_def=store_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="retail",
    kinds={"sql", "delta"},
    description="TransactionEntry rows of every store with the item's brand code (partition = store).",
)
def store_transactions(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    retail_stores: RetailStoresResource,
    config: IngestionConfig,
) -> dg.MaterializeResult:
    return _ingest_stores(
        context,
        storage,
        retail_stores,
        read_transactions,
        TRANSACTIONS_QUARANTINE,
        STORE_TRANSACTIONS,
        shrink_allowed(context, config),
    )


@dg.asset(
    group_name="retail",
    kinds={"sql", "delta"},
    description="Chain-wide item catalogue (Item + Department + BrandCode), checked to agree across stores.",
)
def retail_catalogue(
    context: dg.AssetExecutionContext, storage: StorageResource, retail_stores: RetailStoresResource
) -> dg.MaterializeResult:
    if not retail_stores.store_urls:
        raise dg.Failure(
            description="no store databases configured: set store_urls on the retail_stores resource",
            metadata={"stores": 0},
        )
    quarantine = storage.quarantine(CATALOGUE_QUARANTINE)
    catalogue = read_catalogue(retail_stores.databases(), quarantine)
    result = CATALOGUE.store(storage).replace_all(to_arrow(CATALOGUE, catalogue))
    return dg.MaterializeResult(metadata=result.metadata() | quarantine.commit(context.run_id))
