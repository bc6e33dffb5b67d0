"""Jobs, the weekly re-crawl schedule and the pushed-repositories sensor; the cron strings of the domain.

No tick calls GitHub: a tick only reads the instance and launches runs (a search may wait minutes on a rate limit,
far beyond a tick's timeout)."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg

from assets.code_corpus.partitions import months

RECRAWL_CRON = "0 3 * * 1"  # Monday 03:00 UTC: the weekly re-crawl
MODEL_CRON = "0 0 * * 1"  # Monday 00:00 UTC, before the weekly re-crawl: retrains once that crawl's corpus is built

CRAWL_ASSETS = ("github_repositories", "source_files")
MODEL_ASSETS = ("char_corpus", "char_rnn_model", "char_rnn_evaluation", "code_completions")

code_crawl_job = dg.define_asset_job(
    "code_crawl_job", selection=dg.AssetSelection.assets(*CRAWL_ASSETS), partitions_def=months
)
code_push_scan_job = dg.define_asset_job(
    "code_push_scan_job", selection=dg.AssetSelection.assets("github_pushed_months")
)
code_model_job = dg.define_asset_job("code_model_job", selection=dg.AssetSelection.assets(*MODEL_ASSETS))


@dg.schedule(job=code_crawl_job, cron_schedule=RECRAWL_CRON, default_status=dg.DefaultScheduleStatus.STOPPED)
def code_weekly_recrawl(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Every Monday: one run re-crawling every complete month since GitHub opened (sliced, so it scales)."""
    keys = months.get_partition_keys(current_time=context.scheduled_execution_time)
    return dg.RunRequest(
        run_key=f"recrawl-{context.scheduled_execution_time:%Y-%m-%d}",
        tags={"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]},
    )


SCAN_INTERVAL_SECONDS = 6 * 3600
PUSH_SCAN_ASSET = "github_pushed_months"


@dg.sensor(
    jobs=[code_push_scan_job, code_crawl_job],
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def code_pushed_repositories_sensor(context: dg.SensorEvaluationContext) -> Iterator[dg.RunRequest | dg.SkipReason]:
    """Every 6 h launches a scan run (`github_pushed_months`: pushes since the previous scan) and, for each scan
    that has materialised since, one `code_crawl_job` run per creation month it found. The tick only reads the
    instance and decides; GitHub is searched in the runs, where waiting out a rate limit is fine.

    Cursor (JSON): `since` (when the last scan was launched), `seen` (the last scan materialisation handled)."""
    now = datetime.now(UTC).replace(microsecond=0)
    key = dg.AssetKey(PUSH_SCAN_ASSET)
    if not context.cursor:  # first tick: the backfill or weekly schedule does the initial crawl
        latest = context.instance.fetch_materializations(key, limit=1).records
        state = {"since": now.isoformat(), "seen": latest[0].storage_id if latest else 0}
        context.update_cursor(json.dumps(state))
        yield dg.SkipReason("cursor initialised; watching pushes from now on")
        return
    state = json.loads(context.cursor)
    requested = 0
    scans = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, after_storage_id=state["seen"]), limit=100, ascending=True
    ).records
    for record in scans:
        meta = record.asset_materialization.metadata if record.asset_materialization else {}
        for month in meta["months"].value if "months" in meta else []:
            requested += 1
            yield dg.RunRequest(
                job_name=code_crawl_job.name, run_key=f"pushed-{month}-{record.storage_id}", partition_key=month
            )
        state["seen"] = record.storage_id
    if (now - datetime.fromisoformat(state["since"])).total_seconds() >= SCAN_INTERVAL_SECONDS:
        requested += 1
        yield dg.RunRequest(
            job_name=code_push_scan_job.name,
            run_key=f"push-scan-{now.isoformat()}",
            run_config={"ops": {PUSH_SCAN_ASSET: {"config": {"since": state["since"]}}}},
        )
        state["since"] = now.isoformat()
    if not requested:
        yield dg.SkipReason(f"no new scan results; next scan 6 h after {state['since']}")
    context.update_cursor(json.dumps(state))
