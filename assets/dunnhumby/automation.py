"""Jobs, the landing sensor and the retraining schedule; the cron the training assets' `retrain(...)`
conditions and the schedule share is defined here once."""

import json

import dagster as dg

from assets.dunnhumby.partitions import week_partitions
from assets.dunnhumby.tables import LANDING_SOURCE
from foundation.landing import already_ingested, fingerprint
from foundation.resources import StorageResource
from foundation.storage.filesystems import ObjectInfo
from scrapers.dunnhumby.week_files import week_of

# The names an operator (or an integration test) needs: see docs/dunnhumby.md.
SENSOR_NAME = "dunnhumby_landing_sensor"
WEEKLY_JOB_NAME = "dunnhumby_weekly_job"
TRAINING_JOB_NAME = "dunnhumby_training_job"
TRANSACTIONS_KEY = dg.AssetKey("dunnhumby_transactions")  # its materialisations record the files read

# Weekly retraining once new weeks arrived (files land over the weekend): Mondays 03:00. Used by the
# training assets' automation conditions (foundation/automation.py `retrain`) and the schedule below.
RETRAIN_CRON = "0 3 * * 1"

# Jobs select by asset key, so this module needs no asset module (the training assets import RETRAIN_CRON).
weekly_job = dg.define_asset_job(
    WEEKLY_JOB_NAME,
    selection=dg.AssetSelection.assets(
        "dunnhumby_transactions", "dunnhumby_baskets", "dunnhumby_next_basket_scores", "dunnhumby_week_missions"
    ),
    partitions_def=week_partitions,
    description="Ingest one (or a range of) shop week(s); score its customers and missions with the existing models.",
)

training_job = dg.define_asset_job(
    TRAINING_JOB_NAME,
    selection=dg.AssetSelection.assets(
        "dunnhumby_customer_basket_sequences",
        "dunnhumby_basket_missions",  # the three outputs of the dunnhumby_shopping_missions multi-asset
        "dunnhumby_mission_profiles",
        "dunnhumby_mission_top_products",
        "dunnhumby_next_basket_model",
    ),
    description="Rebuild sequences, refit the shopping missions and retrain the next-basket model.",
)


@dg.sensor(
    name=SENSOR_NAME,
    job=weekly_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New or replaced transactions_YYYYWW.csv[.gz] in the landing folder -> one weekly run per week.",
)
def dunnhumby_landing_sensor(context: dg.SensorEvaluationContext, storage: StorageResource) -> dg.SensorResult:
    """The cursor maps each file name to the fingerprint (size and mtime locally, size and ETag on an object
    store) it was launched or found ingested for, so a file is run once, also across daemon restarts, and a
    replaced file (a corrected re-delivery) is run again. A file ingested by another path (the demo,
    `dg launch`, a backfill) carries its fingerprint on the week's latest `dunnhumby_transactions`
    materialisation and is skipped too (foundation/landing.py)."""
    landing = storage.landing(LANDING_SOURCE)
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    known = set(context.instance.get_dynamic_partitions(week_partitions.name))
    new_by_week: dict[str, ObjectInfo] = {}
    for landed in landing.files():  # one LIST of the folder or object-store prefix, by name
        week = week_of(landed.name)
        if week is None or seen.get(landed.name) == fingerprint(landed):
            continue
        if week in known and already_ingested(context.instance, TRANSACTIONS_KEY, week, landed):
            seen[landed.name] = fingerprint(landed)
            continue
        new_by_week[week] = landed
    if not new_by_week:
        return dg.SensorResult(
            skip_reason=f"no new week files in {landing.uri}", cursor=json.dumps(seen, sort_keys=True)
        )
    runs = []
    for week, landed in sorted(new_by_week.items()):
        version = fingerprint(landed)
        seen[landed.name] = version
        runs.append(
            dg.RunRequest(
                partition_key=week,
                run_key=f"{landed.name}:{version}",
                tags={"dunnhumby/source_file": landed.name},
            )
        )
    new_weeks = sorted(set(new_by_week) - known)
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=[week_partitions.build_add_request(new_weeks)] if new_weeks else [],
        cursor=json.dumps(seen, sort_keys=True),
    )


weekly_retraining_schedule = dg.ScheduleDefinition(
    name="dunnhumby_weekly_retraining_schedule",
    job=training_job,
    cron_schedule=RETRAIN_CRON,  # Mondays 03:00, after the weekend's files
    default_status=dg.DefaultScheduleStatus.STOPPED,
    # Unconditional; the training assets' automation conditions already retrain weekly when new weeks arrived.
    description="Retrain every Monday even without new weeks (the automation conditions retrain only after new ones).",
)
