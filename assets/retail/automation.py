"""Retail jobs, the store sensor and the weekly training schedule."""

import json

import dagster as dg
import sqlalchemy as sa

from assets.retail.partitions import store_partitions
from assets.retail.resources import RetailStoresResource
from foundation.landing import ingested_fingerprint

TRAINING_CRON = "0 4 * * 1"  # Mondays 04:00 UTC: the two-tower model's retrain tick and the training schedule

retail_store_job = dg.define_asset_job(
    "retail_store_job",
    selection=dg.AssetSelection.assets("store_customers", "store_transactions"),
    partitions_def=store_partitions,
    description="Ingest store databases (backfill: `dagster job backfill -j retail_store_job`).",
)
retail_linkage_job = dg.define_asset_job(
    "retail_linkage_job", selection=dg.AssetSelection.assets("retail_catalogue", "customer_entities")
)
retail_entity_transactions_job = dg.define_asset_job(
    "retail_entity_transactions_job",
    selection=dg.AssetSelection.assets("retail_transactions"),
    partitions_def=store_partitions,
)
retail_training_job = dg.define_asset_job(
    "retail_training_job", selection=dg.AssetSelection.assets("item_item_examples", "two_tower_model")
)


@dg.sensor(job=retail_store_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED)
def retail_store_sensor(context: dg.SensorEvaluationContext, retail_stores: RetailStoresResource) -> dg.SensorResult:
    """Adds stores as partitions and ingests a store when its watermark (max transaction id, customers) moves.

    The cursor maps store -> last launched watermark, so a store's data is ingested once per change. A store
    ingested by another path (the demo, `dg launch`, a backfill) at the same watermark is skipped too: both
    ingestion assets record the watermark they read on their materialisation (foundation/landing.py).
    """
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    known = set(context.instance.get_dynamic_partitions(store_partitions.name))
    new_stores = sorted(set(retail_stores.store_urls) - known)
    databases = retail_stores.databases()
    runs = []
    for store in sorted(retail_stores.store_urls):
        try:
            mark = databases.watermark(store)
        except sa.exc.OperationalError as error:  # one unreachable store must not block the others
            context.log.warning(f"{databases.safe_url(store)} unreachable: {type(error).__name__}")
            continue
        if seen.get(store) == mark:
            continue
        seen[store] = mark
        if store in known and all(
            ingested_fingerprint(context.instance, dg.AssetKey(asset), store, store) == mark
            for asset in ("store_customers", "store_transactions")
        ):
            continue
        runs.append(dg.RunRequest(run_key=f"{store}:{mark}", partition_key=store))
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=[store_partitions.build_add_request(new_stores)] if new_stores else [],
        cursor=json.dumps(seen, sort_keys=True),
    )


retail_weekly_training = dg.ScheduleDefinition(
    job=retail_training_job, cron_schedule=TRAINING_CRON, default_status=dg.DefaultScheduleStatus.STOPPED
)
