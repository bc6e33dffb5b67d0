"""The retail pipeline's definitions, merged into the code location by `pipelines/definitions.py`."""

import dagster as dg

from assets.retail.automation import (
    retail_entity_transactions_job,
    retail_linkage_job,
    retail_store_job,
    retail_store_sensor,
    retail_training_job,
    retail_weekly_training,
)
from assets.retail.checks import (
    customer_entities_cover_every_record,
    item_item_examples_have_no_future_items,
    retail_champion_vs_strongest_baseline,
)
from assets.retail.ingestion import retail_catalogue, store_customers, store_transactions
from assets.retail.linkage import customer_entities, retail_transactions
from assets.retail.resources import default_stores_resource
from assets.retail.training import item_item_examples, two_tower_model

defs = dg.Definitions(
    assets=[
        store_customers,
        store_transactions,
        retail_catalogue,
        customer_entities,
        retail_transactions,
        item_item_examples,
        two_tower_model,
    ],
    asset_checks=[
        customer_entities_cover_every_record,
        item_item_examples_have_no_future_items,
        retail_champion_vs_strongest_baseline,
    ],
    jobs=[retail_store_job, retail_linkage_job, retail_entity_transactions_job, retail_training_job],
    sensors=[retail_store_sensor],
    schedules=[retail_weekly_training],
    resources={"retail_stores": default_stores_resource()},
)
