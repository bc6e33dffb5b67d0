"""Customer deduplication across stores, and the store transactions under the resulting entity ids."""

import dagster as dg

from assets.retail.ingestion import store_transactions
from assets.retail.partitions import store_partitions
from assets.retail.tables import CUSTOMER_ENTITIES, ENTITY_TRANSACTIONS, STORE_CUSTOMERS, STORE_TRANSACTIONS, to_arrow
from foundation.progress import Progress
from foundation.resources import StorageResource
from foundation.storage.delta_tables import Window
from models.retail.linkage_splink import link_customers, linkage_summary


@dg.asset(
    deps=[dg.AssetDep("store_customers", partition_mapping=dg.AllPartitionMapping())],
    group_name="retail",
    kinds={"delta"},
    automation_condition=dg.AutomationCondition.eager(),
    description="Entity id per customer record (splink record linkage on DuckDB with blocking), with match scores.",
)
def customer_entities(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    customers = STORE_CUSTOMERS.store(storage).read().to_pandas()
    with Progress(context.log, "customer records linked", len(customers)) as linking:
        linkage = link_customers(customers)
        linking.advance(len(customers))
    result = CUSTOMER_ENTITIES.store(storage).replace_all(to_arrow(CUSTOMER_ENTITIES, linkage.entities))
    counts, details = linkage_summary(linkage.stats)
    return dg.MaterializeResult(
        metadata=result.metadata() | counts | linking.metadata() | {"linkage": dg.MetadataValue.json(details)}
    )


@dg.asset(
    partitions_def=store_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[store_transactions, customer_entities],
    group_name="retail",
    kinds={"delta"},
    automation_condition=dg.AutomationCondition.eager(),
    description="Store transactions under customer entity ids (partition = store).",
)
def retail_transactions(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    window = Window.of("store_id", *context.partition_keys)
    transactions = STORE_TRANSACTIONS.store(storage).read(window).to_pandas()
    entities = CUSTOMER_ENTITIES.store(storage).read(columns=["record_key", "entity_id"]).to_pandas()
    merged = transactions.merge(entities, on="record_key", how="left")
    unresolved = int(merged["entity_id"].isna().sum())
    if unresolved:
        raise dg.Failure(
            description=f"{unresolved} transactions of {context.partition_keys} have no customer entity; "
            "re-materialise customer_entities after store_customers",
            metadata={"unresolved_transactions": unresolved, "stores": ", ".join(context.partition_keys)},
        )
    result = ENTITY_TRANSACTIONS.store(storage).overwrite(to_arrow(ENTITY_TRANSACTIONS, merged), window)
    records = merged["record_key"].nunique()
    return dg.MaterializeResult(
        metadata=result.metadata() | {"customer_records": records, "entities": int(merged["entity_id"].nunique())}
    )
