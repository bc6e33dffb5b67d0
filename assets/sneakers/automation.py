"""Jobs, the daily re-scrape schedule and the new-images sensor; the crons of the pipeline."""

import dagster as dg

from assets.sneakers.partitions import queries_partitions
from assets.sneakers.resources import SneakersMarketplaceResource
from assets.sneakers.tables import IMAGES
from foundation.resources import StorageResource
from scrapers.marketplace.profile import ProfileError

DAILY_SCRAPE_CRON = "0 6 * * *"  # 06:00 UTC: every query re-scraped
CNN_CRON = "0 7 * * 1"  # Monday 07:00 UTC: after that morning's scrape (the daily schedule runs at 06:00)

INGEST = ("sneaker_listings", "sneaker_price_history", "sneaker_images")
TRAINING = ("sneaker_cnn", "sneaker_meta_models", "sneaker_predictions", "sneaker_evaluation")

sneakers_ingest_job = dg.define_asset_job(
    "sneakers_ingest",
    selection=dg.AssetSelection.assets(*INGEST),
    partitions_def=queries_partitions,
    description="Scrape, keep price history and normalise images for one or more search queries (backfill me).",
)
sneakers_training_job = dg.define_asset_job(
    "sneakers_training",
    selection=dg.AssetSelection.assets(*TRAINING),
    description="Train, stack, predict and evaluate; set ops.*.config.model_version to (re)build a chosen version.",
)
sneakers_dataset_job = dg.define_asset_job(
    "sneakers_dataset", selection=dg.AssetSelection.assets("sneaker_tfrecords"), description="Rebuild the TFRecords."
)


@dg.schedule(
    job=sneakers_ingest_job,
    cron_schedule=DAILY_SCRAPE_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def sneakers_daily_scrape(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    """Re-scrape every query daily: today's prices join the history, listings show today's catalogue."""
    day = context.scheduled_execution_time.date().isoformat()
    return [
        dg.RunRequest(run_key=f"{day}|{q}", partition_key=q, tags={"sneakers/scrape_date": day})
        for q in context.instance.get_dynamic_partitions(queries_partitions.name)
    ]


@dg.sensor(job=sneakers_ingest_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED)
def sneakers_profile_queries(
    context: dg.SensorEvaluationContext, sneakers_marketplace: SneakersMarketplaceResource
) -> dg.SensorResult:
    """The site profile's queries become partitions (a new shop needs a profile file, no code); each new query
    is scraped once right away, then daily by the schedule."""
    try:
        queries = sneakers_marketplace.profile(None).queries
    except (OSError, ProfileError) as err:
        raise dg.Failure(description=f"cannot read the site profile: {err}") from err
    known = set(context.instance.get_dynamic_partitions(queries_partitions.name))
    missing = [q for q in dict.fromkeys(queries) if q not in known]
    if not missing:
        return dg.SensorResult(skip_reason=f"all {len(queries)} queries of the profile are partitions")
    return dg.SensorResult(
        dynamic_partitions_requests=[queries_partitions.build_add_request(missing)],
        run_requests=[dg.RunRequest(run_key=f"new-query|{q}", partition_key=q) for q in missing],
    )


@dg.sensor(job=sneakers_dataset_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED)
def sneakers_new_images_sensor(context: dg.SensorEvaluationContext, storage: StorageResource) -> dg.SensorResult:
    """Rebuild the TFRecords once per new version of the images table (the cursor is that version)."""
    store = IMAGES.store(storage)
    if not store.exists():
        return dg.SensorResult(skip_reason="no sneaker_images table yet")
    version = store.version()
    if context.cursor and int(context.cursor) >= version:
        return dg.SensorResult(skip_reason=f"sneaker_images still at version {version}")
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"sneaker_images@{version}")], cursor=str(version))
