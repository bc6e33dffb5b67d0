"""The real dagster-daemon picks up new files exactly once and runs a three-partition backfill."""

from __future__ import annotations

import time
from collections import Counter

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus

from assets.amazon.automation import AUTOMATION_TAG
from sandbox.amazon import AmazonSandboxSpec, generate
from sandbox.dunnhumby import DunnhumbySandbox

WEEKS = ["200607", "200609", "200610"]
RUN_WAIT_S = 600


def finished(runs: list[dg.DagsterRun]) -> bool:
    return all(r.is_finished for r in runs)


def landing_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return [r for r in instance.get_runs() if "dunnhumby/source_file" in r.tags or "amazon/landing_file" in r.tags]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_new_files_launch_one_run_each_and_a_backfill_succeeds(dagster_services):
    from tests.operating.conftest import wait_for

    services = dagster_services
    root = services.root
    dunnhumby_files = DunnhumbySandbox(seed=5, n_customers=40, n_products=80).write_weeks(
        root / "landing" / "dunnhumby", WEEKS
    )
    amazon = generate(root / "landing" / "amazon", AmazonSandboxSpec(category="Toys", n_users=300, n_items=150))
    expected = {p.name for p in dunnhumby_files} | {amazon.reviews_path.name, amazon.meta_path.name}

    with services.instance() as instance:

        def all_files_ran() -> bool:
            runs = landing_runs(instance)
            return len(runs) >= len(expected) and finished(runs)

        try:
            wait_for(all_files_ran, RUN_WAIT_S, f"one finished run per landed file ({len(expected)})", every=3)
        except TimeoutError:
            raise AssertionError(services.tail("daemon")) from None
        time.sleep(35)  # another sensor tick (every 30 s) must not launch anything again
        runs = landing_runs(instance)
        files = Counter(
            r.tags.get("dunnhumby/source_file", r.tags.get("amazon/landing_file", "")).rsplit("/", 1)[-1] for r in runs
        )
        assert set(files) == expected and set(files.values()) == {1}, files
        failed = [(r.job_name, r.run_id) for r in runs if r.status != dg.DagsterRunStatus.SUCCESS]
        assert not failed, f"{failed}\n{services.tail('daemon')}"

        # A backfill over three shop weeks, queued the way an operator does it from the CLI.
        services.cli(
            "job",
            "backfill",
            "-m",
            "pipelines.definitions",
            "-j",
            "dunnhumby_weekly_job",
            "--partitions",
            ",".join(WEEKS),
            "--noprompt",
        )

        def backfill_done():
            # The job backfill, not one the automation sensor may emit for assets that follow new data.
            backfills = [b for b in instance.get_backfills() if b.job_name == "dunnhumby_weekly_job"]
            return backfills and backfills[0].status != BulkActionStatus.REQUESTED and backfills[0]

        backfill = wait_for(backfill_done, RUN_WAIT_S, "the backfill to complete", every=3)
        backfill_runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))
        wait_for(
            lambda: finished(instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))),
            RUN_WAIT_S,
            "backfill runs",
        )
        backfill_runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))
        assert sorted(r.tags["dagster/partition"] for r in backfill_runs) == WEEKS
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in backfill_runs)
        backfill = instance.get_backfill(backfill.backfill_id)
        # A job backfill ends COMPLETED (asset backfills end COMPLETED_SUCCESS); its runs all succeeded above.
        assert backfill.status in (BulkActionStatus.COMPLETED, BulkActionStatus.COMPLETED_SUCCESS)
        # The automation sensor ran throughout: baskets are built in the same runs as their weeks, training waits
        # for its weekly tick (unless this test straddles Monday 03:00 UTC) and no Amazon dataset tag exists yet,
        # so it must have launched nothing.
        automated = instance.get_runs(filters=dg.RunsFilter(tags={AUTOMATION_TAG: "true"}))
        assert not automated, [(r.job_name, sorted(r.asset_selection or [])) for r in automated]
