"""The Amazon pipeline's definitions, merged into the code location by pipelines/definitions.py."""

import dagster as dg

from assets.amazon.automation import amazon_ingest_job, amazon_landing_sensor, amazon_models_job
from assets.amazon.checks import (
    amazon_champion_vs_strongest_baseline,
    amazon_dataset_thresholds_hold,
    amazon_items_unique_parent_asin,
    amazon_reviews_are_usable,
)
from assets.amazon.dataset import amazon_dataset
from assets.amazon.ingestion import amazon_items, amazon_reviews
from assets.amazon.resources import AmazonModelSettingsResource
from assets.amazon.training import amazon_model_comparison, model_assets

defs = dg.Definitions(
    assets=[amazon_reviews, amazon_items, amazon_dataset, *model_assets, amazon_model_comparison],
    asset_checks=[
        amazon_reviews_are_usable,
        amazon_items_unique_parent_asin,
        amazon_dataset_thresholds_hold,
        amazon_champion_vs_strongest_baseline,
    ],
    jobs=[amazon_ingest_job, amazon_models_job],
    sensors=[amazon_landing_sensor],
    resources={"amazon_model_settings": AmazonModelSettingsResource()},
)
