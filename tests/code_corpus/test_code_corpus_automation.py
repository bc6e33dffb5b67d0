"""The weekly re-crawl schedule and the pushed-repositories sensor, against the sandbox GitHub."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import dagster as dg

from assets.code_corpus.automation import code_pushed_repositories_sensor, code_weekly_recrawl
from assets.code_corpus.ingestion import github_pushed_months
from assets.code_corpus.resources import CodeCorpusGitHubResource


def test_sensor_scans_in_a_run_then_requests_the_months_of_pushed_repositories(github, github_token, instance):
    """The tick never calls GitHub: it launches a scan run every 6 h, then one crawl run per month the scan found."""
    sensor = code_pushed_repositories_sensor
    first = dg.build_sensor_context(instance=instance)
    assert isinstance(list(sensor(first))[0], dg.SkipReason) and first.cursor  # starts watching from now
    assert isinstance(list(sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor)))[0], dg.SkipReason)
    since = "2018-12-31T00:00:00+00:00"  # after every filler push, before every content-repo push
    due = dg.build_sensor_context(instance=instance, cursor=json.dumps({"since": since, "seen": 0}))
    (scan,) = list(sensor(due))
    assert scan.job_name == "code_push_scan_job" and not github.state.requests  # decided without GitHub
    assert scan.run_config == {"ops": {"github_pushed_months": {"config": {"since": since}}}}
    resource = CodeCorpusGitHubResource(endpoint=github.endpoint, token=github_token, backoff_seconds=0.01)
    ran = dg.materialize(
        [github_pushed_months], instance=instance, resources={"code_github": resource}, run_config=scan.run_config
    )
    assert ran.success and github.state.requests  # the search ran in the run
    after = dg.build_sensor_context(instance=instance, cursor=due.cursor)
    requests = list(sensor(after))
    assert [(r.job_name, r.partition_key) for r in requests] == [
        ("code_crawl_job", "2019-01-01"),
        ("code_crawl_job", "2019-02-01"),
        ("code_crawl_job", "2019-03-01"),
    ]
    again = dg.build_sensor_context(instance=instance, cursor=after.cursor)
    assert isinstance(list(sensor(again))[0], dg.SkipReason)  # that scan is handled; the next is 6 h away


def test_weekly_schedule_recrawls_every_complete_month_in_one_run():
    when = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    request = code_weekly_recrawl(dg.build_schedule_context(scheduled_execution_time=when))
    assert request.tags["dagster/asset_partition_range_start"] == "2008-01-01"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-10-01"
