"""The Dagster UI in real Chromium: every pipeline's assets are in the graph, and a materialisation
launched from the UI runs (through the queue and the daemon) and succeeds. Screenshots are kept in
tests/artifacts/operating/."""

from __future__ import annotations

import collections
import contextlib

import dagster as dg
import pytest

from pipelines.browser import launch_options
from pipelines.resources import REPO_ROOT
from sandbox.dunnhumby import write_calendar

ARTIFACTS = REPO_ROOT / "tests" / "artifacts" / "operating"
UI_ASSET = "dunnhumby_shop_calendar"  # unpartitioned and cheap: reads the landed calendar file


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
        browser.close()
