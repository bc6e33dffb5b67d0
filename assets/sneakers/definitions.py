"""The sneakers pipeline's Dagster definitions (merged into the code location by pipelines/definitions.py)."""

import dagster as dg

from assets.sneakers.automation import (
    sneakers_daily_scrape,
    sneakers_dataset_job,
    sneakers_ingest_job,
    sneakers_new_images_sensor,
    sneakers_profile_queries,
    sneakers_training_job,
)
from assets.sneakers.checks import CHECKS
from assets.sneakers.dataset import sneaker_tfrecords
from assets.sneakers.ingestion import sneaker_images, sneaker_listings, sneaker_price_history
from assets.sneakers.resources import marketplace_from_env
from assets.sneakers.training import sneaker_cnn, sneaker_evaluation, sneaker_meta_models, sneaker_predictions

defs = dg.Definitions(
    assets=[
        sneaker_listings,
        sneaker_price_history,
        sneaker_images,
        sneaker_tfrecords,
        sneaker_cnn,
        sneaker_meta_models,
        sneaker_predictions,
        sneaker_evaluation,
    ],
    asset_checks=CHECKS,
    jobs=[sneakers_ingest_job, sneakers_dataset_job, sneakers_training_job],
    schedules=[sneakers_daily_scrape],
    sensors=[sneakers_new_images_sensor, sneakers_profile_queries],
    resources={"sneakers_marketplace": marketplace_from_env()},
)
