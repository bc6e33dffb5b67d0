"""The weekly re-crawl schedule and the pushed-repositories sensor, against the sandbox GitHub."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from assets.code_corpus.automation import code_pushed_repositories_sensor, code_weekly_recrawl
from assets.code_corpus.resources import CodeCorpusGitHubResource


def test_sensor_requests_the_months_of_pushed_repositories(github, github_token, instance):
    resource = CodeCorpusGitHubResource(endpoint=github.endpoint, token=github_token, backoff_seconds=0.01)
    sensor = code_pushed_repositories_sensor
    first = dg.build_sensor_context(instance=instance, resources={"code_github": resource})
    assert isinstance(list(sensor(first))[0], dg.SkipReason) and first.cursor  # starts watching from now
    since = "2018-12-31T00:00:00+00:00"  # after every filler push, before every content-repo push
    context = dg.build_sensor_context(instance=instance, cursor=since, resources={"code_github": resource})
    requests = list(sensor(context))
    assert [r.partition_key for r in requests] == ["2019-01-01", "2019-02-01", "2019-03-01"]
    assert context.cursor > since
    again = dg.build_sensor_context(instance=instance, cursor=context.cursor, resources={"code_github": resource})
    assert isinstance(list(sensor(again))[0], dg.SkipReason)  # nothing pushed since


def test_weekly_schedule_recrawls_every_complete_month_in_one_run():
    when = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    request = code_weekly_recrawl(dg.build_schedule_context(scheduled_execution_time=when))
    assert request.tags["dagster/asset_partition_range_start"] == "2008-01-01"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-10-01"
