"""Every shop of the test kit (sandbox/shops) scraped by every strategy its profile supports: the whole
catalogue, exactly, with the same records from both strategies; and shops that break midway make the crawl
fail with the evidence, never a silent partial result.

Scrapy crawls run as the pipeline runs them (a child process each, all at once); Playwright crawls share one
browser in this process, so the module costs one browser start.
"""

import asyncio
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from foundation.browser import launch_options
from foundation.resources import REPO_ROOT
from sandbox.shops.server import SHOPS, Faults, KitConfig, ShopKitServer, profile_path
from scrapers.marketplace.crawl import INCOMPLETE_EXIT, crawl_command, summarise
from scrapers.marketplace.pager import END_REASONS
from scrapers.marketplace.playwright_strategy import CHROMIUM_ARGS, crawl_in
from scrapers.marketplace.profile import SiteProfile

pytestmark = pytest.mark.slow

# A server error on page 5 (of 5) of one shop; empty pages from page 3 on (the total still says 45) of another.
FAULTS = {"pages": Faults(error_on_page=5), "loadmore": Faults(empty_from_page=3)}
RUNS = [(shop, strategy) for shop in SHOPS for strategy in SiteProfile.load(profile_path(shop)).strategies]


@dataclass
class Run:
    stats: dict
    records: list[dict]
    exit_code: int = 0


@pytest.fixture(scope="module")
def servers():
    with ShopKitServer() as good, ShopKitServer(KitConfig(faults=FAULTS)) as faulty:
        yield {"ok": good, "fault": faulty}


@pytest.fixture(scope="module")
def scrapy_runs(servers, tmp_path_factory) -> dict[tuple[str, str], Run]:
    tmp = tmp_path_factory.mktemp("scrapy")
    jobs = {}
    plan = [("ok", shop) for shop, strategy in RUNS if strategy == "scrapy"] + [("fault", shop) for shop in FAULTS]
    for label, shop in plan:
        out = tmp / f"{label}-{shop}.jsonl"
        command = crawl_command("scrapy", profile_path(shop), out, servers[label].base_url)
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        jobs[(label, shop)] = (process, out)
    runs = {}
    for key, (process, out) in jobs.items():
        stdout, stderr = process.communicate(timeout=240)
        assert stdout.strip(), f"{key}: no stats; stderr: {stderr[-2000:]}"
        records = [json.loads(line) for line in out.read_text().splitlines()]
        runs[key] = Run(json.loads(stdout.strip().splitlines()[-1]), records, process.returncode)
    return runs


@pytest.fixture(scope="module")
def browser_runs(servers) -> dict[tuple[str, str], Run]:
    from playwright.async_api import async_playwright

    plan = [("ok", shop) for shop, strategy in RUNS if strategy == "playwright"] + [("fault", shop) for shop in FAULTS]

    async def crawl_all() -> dict[tuple[str, str], Run]:
        runs = {}
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(**launch_options(args=CHROMIUM_ARGS))
            try:
                for label, shop in plan:
                    profile = SiteProfile.load(profile_path(shop), base_url=servers[label].base_url)
                    records: list[dict] = []
                    reports = await crawl_in(browser, profile, records.append)
                    runs[(label, shop)] = Run(summarise("playwright", profile, reports), records)
            finally:
                await browser.close()
        return runs

    return asyncio.run(crawl_all())


def _run(request, strategy: str, key: tuple[str, str]) -> Run:
    return request.getfixturevalue("scrapy_runs" if strategy == "scrapy" else "browser_runs")[key]


def _listing(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "scraped_at"}


@pytest.mark.parametrize(("shop", "strategy"), RUNS)
def test_every_shop_every_strategy_captures_the_catalogue_exactly(request, servers, shop, strategy):
    run = _run(request, strategy, ("ok", shop))
    catalogue = servers["ok"].kit.expected(shop)
    ids = [r["listing_id"] for r in run.records]
    assert not [r for r in run.records if "reject" in r]
    assert len(ids) == len(set(ids)), "duplicates emitted"
    assert set(ids) == set(catalogue), f"missing {sorted(set(catalogue) - set(ids))[:5]}"
    for r in run.records:  # typed values: the catalogue's title and price, whatever the shop's price format
        product = catalogue[r["listing_id"]]
        assert r["title"] == product.title
        assert r["price"] == (str(product.price) if product.price is not None else None), r
        assert r["source_url"] == servers["ok"].base_url + product.url
    stats = run.stats
    assert stats["complete"] and run.exit_code == 0, stats["problems"]
    assert stats["items"] == stats["expected"] == len(catalogue)
    assert set(stats["stop_reasons"]) == {"jordans", "dunks"} and set(stats["stop_reasons"].values()) <= END_REASONS


@pytest.mark.parametrize("shop", [shop for shop in SHOPS if (shop, "playwright") in RUNS and (shop, "scrapy") in RUNS])
def test_both_strategies_emit_the_same_records(scrapy_runs, browser_runs, shop):
    by_scrapy = {r["listing_id"]: _listing(r) for r in scrapy_runs[("ok", shop)].records}
    by_browser = {r["listing_id"]: _listing(r) for r in browser_runs[("ok", shop)].records}
    assert by_scrapy == by_browser


@pytest.mark.parametrize("strategy", ["scrapy", "playwright"])
def test_a_server_error_midway_fails_the_crawl_with_the_evidence(request, strategy):
    run = _run(request, strategy, ("fault", "pages"))
    stats = run.stats
    assert not stats["complete"]
    assert run.exit_code == (INCOMPLETE_EXIT if strategy == "scrapy" else 0)
    assert set(stats["stop_reasons"].values()) == {"error"}
    assert any("HTTP 500" in e and "page=5" in e for e in stats["errors"]), stats["errors"]
    assert any("40 of 45 expected" in p for p in stats["problems"]), stats["problems"]


@pytest.mark.parametrize("strategy", ["scrapy", "playwright"])
def test_an_empty_page_before_the_total_fails_the_crawl(request, strategy):
    stats = _run(request, strategy, ("fault", "loadmore")).stats
    assert not stats["complete"] and stats["errors"] == []
    assert stats["items"] == 40 and stats["expected"] == 90
    assert set(stats["stop_reasons"].values()) == ({"empty_page"} if strategy == "scrapy" else {"button_gone"})
    assert "jordans: 20 of 45 expected items" in stats["problems"][0]


def test_storefront_scrape_resolves_paths_against_the_cwd_and_reports_completeness(servers, tmp_path):
    storefront = str(Path(sys.executable).with_name("storefront"))
    url = servers["fault"].base_url  # its ldjson shop is healthy, its pages shop fails on page 5
    (tmp_path / "ldjson.yaml").write_text(profile_path("ldjson").read_text())
    (tmp_path / "pages.yaml").write_text(profile_path("pages").read_text())

    def scrape(profile: str, out: str) -> subprocess.CompletedProcess:
        command = [storefront, "scrape", "--profile", profile, "--out", out, "--base-url", url, "--query", "jordans"]
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=240)

    done = scrape("ldjson.yaml", "out/listings.jsonl")
    assert done.returncode == 0, done.stdout + done.stderr
    assert len((tmp_path / "out" / "listings.jsonl").read_text().splitlines()) == 45
    assert "45 items captured of 45 expected, 5 pages" in done.stdout
    assert "jordans: 45 items of 45, 5 pages, stopped by total_reached" in done.stdout

    failed = scrape("pages.yaml", "pages.jsonl")
    assert failed.returncode == INCOMPLETE_EXIT
    assert "stopped by error, errors: HTTP 500" in failed.stdout and "INCOMPLETE" in failed.stdout
