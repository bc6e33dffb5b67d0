"""The Dagster UI in real Chromium: every pipeline's assets are in the graph, a materialisation
launched from the UI runs (through the queue and the daemon) and succeeds, and so does a backfill of
three partitions launched from the same dialog. Screenshots are kept in tests/artifacts/operating/."""

from __future__ import annotations

import collections
import contextlib

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus

from foundation.browser import launch_options
from foundation.resources import REPO_ROOT
from sandbox.dunnhumby import DunnhumbySandbox, write_calendar

ARTIFACTS = REPO_ROOT / "tests" / "artifacts" / "operating"
UI_ASSET = "dunnhumby_shop_calendar"  # unpartitioned and cheap: reads the landed calendar file
BACKFILL_ASSET = "dunnhumby_transactions"  # partitioned by shop week and cheap on small sandbox weeks
BACKFILL_WEEKS = ["200607", "200608", "200609"]


def assets_by_group() -> dict[str, list[str]]:
    from pipelines.definitions import defs

    groups: dict[str, list[str]] = collections.defaultdict(list)
    for asset in defs.assets:
        for key in asset.keys:
            groups[asset.group_names_by_key[key]].append(key.to_user_string())
    return groups


def dismiss_welcome(page) -> None:
    """The first visit shows a community sign-up dialog; skip it (it renders a moment after load)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):
        page.get_by_role("button", name="Skip").first.click(timeout=8_000)


@pytest.mark.slow
def test_ui_shows_every_pipeline_and_materialises_an_asset(dagster_services):
    from playwright.sync_api import sync_playwright

    from tests.operating.conftest import wait_for

    services = dagster_services
    write_calendar(services.root / "landing" / "dunnhumby")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    groups = assets_by_group()
    assert {"sneakers", "code", "amazon", "dunnhumby", "retail"} <= set(groups)

    with sync_playwright() as p:
        browser = p.chromium.launch(**launch_options())
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(f"{services.url}/asset-groups", wait_until="networkidle")
        dismiss_welcome(page)
        page.screenshot(path=str(ARTIFACTS / "lineage.png"))
        for group, keys in sorted(groups.items()):
            page.goto(f"{services.url}/locations/pipelines.definitions/asset-groups/{group}", wait_until="networkidle")
            page.get_by_text("List", exact=True).first.click()  # the graph hides labels when zoomed out
            for key in keys:
                page.get_by_text(key, exact=True).first.wait_for()
            page.screenshot(path=str(ARTIFACTS / f"group-{group}.png"))

        page.goto(f"{services.url}/assets/{UI_ASSET}", wait_until="networkidle")
        dismiss_welcome(page)
        page.locator("button", has_text="Materialize").first.click()
        with services.instance() as instance:
            run = wait_for(lambda: instance.get_runs(limit=1), 60, "the UI to launch a run")[0]

            def run_finished():
                latest = instance.get_run_by_id(run.run_id)
                return latest if latest.is_finished else None

            finished = wait_for(run_finished, 300, "the run launched from the UI", every=2)
            page.goto(f"{services.url}/runs/{run.run_id}", wait_until="networkidle")
            page.get_by_text("Success").first.wait_for()
            page.screenshot(path=str(ARTIFACTS / "ui-run.png"))
            assert finished.status == dg.DagsterRunStatus.SUCCESS, services.tail("daemon")
            assert dg.AssetKey(UI_ASSET) in finished.asset_selection

            backfill_three_weeks_from_the_ui(page, services, instance)
        browser.close()


def backfill_three_weeks_from_the_ui(page, services, instance: dg.DagsterInstance) -> None:
    """The operator's manual path: weeks are on disk and registered, the landing sensor is off (or it would
    launch its own run per file), and the asset's Materialize dialog backfills all of them."""
    from tests.operating.conftest import wait_for

    services.cli("sensor", "stop", "dunnhumby_landing_sensor", "-m", "pipelines.definitions")
    landing = services.root / "landing" / "dunnhumby"
    DunnhumbySandbox(seed=5, n_customers=40, n_products=80).write_weeks(landing, BACKFILL_WEEKS)
    instance.add_dynamic_partitions("dunnhumby_shop_weeks", BACKFILL_WEEKS)

    page.goto(f"{services.url}/assets/{BACKFILL_ASSET}", wait_until="networkidle")
    page.locator("button", has_text="Materialize").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="All", exact=True).click()
    dialog.get_by_text(f"{len(BACKFILL_WEEKS)} partitions").first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "ui-backfill-dialog.png"))
    dialog.get_by_role("button", name="Launch backfill").click()

    def created():
        return [b for b in instance.get_backfills() if b.asset_selection == [dg.AssetKey(BACKFILL_ASSET)]]

    backfill = wait_for(created, 60, "the UI to create a backfill")[0]

    def backfill_done():
        latest = instance.get_backfill(backfill.backfill_id)
        return latest if latest.status not in (BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING) else None

    done = wait_for(backfill_done, 300, "the backfill launched from the UI", every=2)
    assert done.status == BulkActionStatus.COMPLETED_SUCCESS, services.tail("daemon")
    assert instance.get_materialized_partitions(dg.AssetKey(BACKFILL_ASSET)) == set(BACKFILL_WEEKS)
    page.goto(f"{services.url}/runs/b/{backfill.backfill_id}", wait_until="networkidle")
    page.get_by_text(backfill.backfill_id).first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "ui-backfill.png"))
