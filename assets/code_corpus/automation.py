"""Jobs, the weekly re-crawl schedule and the pushed-repositories sensor; the cron strings of the domain."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from assets.code_corpus.partitions import FIRST_MONTH, month_of, months
from assets.code_corpus.resources import CodeCorpusGitHubResource
from scrapers.code_corpus.github import crawl, parse_repository

RECRAWL_CRON = "0 3 * * 1"  # Monday 03:00 UTC: the weekly re-crawl
MODEL_CRON = "0 0 * * 1"  # Monday 00:00 UTC, before the weekly re-crawl: retrains once that crawl's corpus is built

CRAWL_ASSETS = ("github_repositories", "source_files")
MODEL_ASSETS = ("char_corpus", "char_rnn_model", "char_rnn_evaluation", "code_completions")

code_crawl_job = dg.define_asset_job(
    "code_crawl_job", selection=dg.AssetSelection.assets(*CRAWL_ASSETS), partitions_def=months
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


@dg.sensor(job=code_crawl_job, minimum_interval_seconds=6 * 3600, default_status=dg.DefaultSensorStatus.STOPPED)
def code_pushed_repositories_sensor(
    context: dg.SensorEvaluationContext, code_github: CodeCorpusGitHubResource
) -> Iterator[dg.RunRequest | dg.SkipReason]:
    """Re-runs the creation months of repositories pushed since the cursor (an ISO timestamp)."""
    now = datetime.now(UTC).replace(microsecond=0)
    if not context.cursor:  # first tick: the backfill or weekly schedule does the initial crawl
        context.update_cursor(now.isoformat())
        yield dg.SkipReason("cursor initialised; watching pushes from now on")
        return
    since = datetime.fromisoformat(context.cursor)
    with code_github.client() as client:
        found = crawl(
            client,
            date.fromisoformat(FIRST_MONTH),
            now.date(),
            code_github.stars_above,
            code_github.language,
            extra=f"pushed:>{since.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        )
    valid = set(months.get_partition_keys(current_time=now + timedelta(days=31)))
    touched = sorted({month_of(parse_repository(n)["created_at"]) for n in found.repositories} & valid)
    for key in touched:
        yield dg.RunRequest(run_key=f"pushed-{key}-{context.cursor}", partition_key=key)
    if not touched:
        yield dg.SkipReason(f"no repositories pushed since {context.cursor}")
    context.update_cursor(now.isoformat())
