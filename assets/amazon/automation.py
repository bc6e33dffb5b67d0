"""Amazon automation: the landing sensor and its ingest job, the models job, and when models retrain.

Re-ingesting a category rebuilds the dataset tags already built on it (`amazon_dataset`, `follow_updates()`),
the recommenders retrain at most once per `MODELS_CRON` tick after their tag changed (`retrain`), and the
comparison follows them. The models job selects its assets by key, so the asset modules can use the
constants here without an import cycle.
"""

import json

import dagster as dg

from assets.amazon.ingestion import amazon_items, amazon_reviews
from assets.amazon.partitions import category_partitions, dataset_partitions
from foundation.landing import already_ingested, fingerprint
from foundation.resources import StorageResource
from models.amazon.training import MODEL_NAMES
from scrapers.amazon.landing import LANDING_SOURCE, landed_files

AUTOMATION_TAG = "dagster/from_automation_condition"  # set by Dagster on runs the automation sensor launches
MODELS_CRON = "0 2 * * *"  # daily, 02:00 UTC
MODEL_ASSETS = tuple(f"amazon_model_{name}" for name in MODEL_NAMES)  # one per recommender (training.py)

amazon_ingest_job = dg.define_asset_job(
    "amazon_ingest_job",
    selection=dg.AssetSelection.assets(amazon_reviews, amazon_items),
    partitions_def=category_partitions,
    description="Ingest one category's landed Amazon files; the landing sensor launches it once per new file.",
)

amazon_models_job = dg.define_asset_job(
    "amazon_models_job",
    selection=dg.AssetSelection.assets("amazon_dataset", *MODEL_ASSETS, "amazon_model_comparison"),
    partitions_def=dataset_partitions,
    description="Build a dataset tag and train and compare every recommender on it.",
)


@dg.sensor(
    name="amazon_landing_sensor",
    job=amazon_ingest_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One run of amazon_ingest_job per new or changed file in the Amazon landing folder.",
)
def amazon_landing_sensor(context: dg.SensorEvaluationContext, storage: StorageResource) -> dg.SensorResult:
    # The cursor maps file name -> fingerprint (size and mtime; size and ETag on an object store) of the version
    # already launched or found ingested, so a file is ingested once, again only when it is replaced, and never
    # twice across daemon restarts. A file ingested by another path (the demo, `dg launch`, a backfill) carries its
    # fingerprint on the partition's latest materialisation and is skipped too (foundation/landing.py).
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    known = set(context.instance.get_dynamic_partitions(category_partitions.name))
    new_categories: list[str] = []
    runs = []
    for landed, kind, category in landed_files(storage.landing(LANDING_SOURCE).files()):
        version = fingerprint(landed)
        if seen.get(landed.name) == version:
            continue
        seen[landed.name] = version
        asset = amazon_reviews if kind == "reviews" else amazon_items
        if category in known and already_ingested(context.instance, asset.key, category, landed):
            continue
        if category not in known and category not in new_categories:
            new_categories.append(category)
        runs.append(
            dg.RunRequest(
                run_key=f"{landed.name}:{version}",
                partition_key=category,
                asset_selection=[asset.key],
                tags={"amazon/landing_file": landed.name},
            )
        )
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=[category_partitions.build_add_request(new_categories)] if new_categories else [],
        cursor=json.dumps(seen, sort_keys=True),
    )
