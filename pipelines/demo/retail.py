"""Retail demo: three generated store databases -> dedup -> examples -> two-tower model (about a minute of CPU)."""

from __future__ import annotations

from assets.retail.partitions import store_partitions
from assets.retail.resources import DEFAULT_STORES, LANDING_SOURCE, RetailStoresResource
from assets.retail.tables import CUSTOMER_ENTITIES
from pipelines.demo import DemoContext
from sandbox.retail import build_store_databases, match_quality, planted_truth

DEMO_PEOPLE = 2000
DEMO_TRAINING = {"epochs": 8}


def run(ctx: DemoContext) -> None:
    directory = ctx.scratch("landing", LANDING_SOURCE)  # SQLite databases: outside sources, not object-store files
    urls = build_store_databases(directory, n_stores=DEFAULT_STORES, n_people=DEMO_PEOPLE)
    stores = RetailStoresResource(store_urls=urls)
    ctx.instance.add_dynamic_partitions(store_partitions.name, list(urls))
    resources = {"retail_stores": stores}
    every_store = (min(urls), max(urls))
    ctx.materialize(["store_customers", "store_transactions"], partition_range=every_store, resources=resources)
    ctx.materialize(["retail_catalogue", "customer_entities"], resources=resources)
    # The sandbox knows who is who: how well the linkage found the planted duplicates.
    entities = CUSTOMER_ENTITIES.store(ctx.storage).read(columns=["record_key", "entity_id"]).to_pandas()
    truth = planted_truth(stores.databases())
    if truth is not None:
        print(f"dedup against planted truth: {match_quality(entities, truth)}", flush=True)
    ctx.materialize(["retail_transactions"], partition_range=every_store, resources=resources)
    ctx.materialize(
        ["item_item_examples", "two_tower_model"],
        resources=resources,
        run_config={"ops": {"two_tower_model": {"config": DEMO_TRAINING}}},
    )
