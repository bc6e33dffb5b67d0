"""Listings per second on the same sandbox catalogue: Playwright with API interception, the Scrapy API pager,
and the original approach (scroll, fixed sleep, until the page height stops changing; then parse the cards).

    .venv/bin/python benchmarks/bench_sneakers_scraping.py [--listings 240] [--sleep 3] [--big 2000 20000]

`--big N ...` also scrapes one query of N listings with the Playwright strategy and reports the browser's
peak resident memory (all Chromium processes), which stays bounded because cards are pruned from the DOM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sandbox.sneakers.catalogue import CatalogueConfig  # noqa: E402
from sandbox.sneakers.marketplace import PROFILE, MarketplaceConfig, MarketplaceServer  # noqa: E402
from scrapers.marketplace import playwright_strategy  # noqa: E402
from scrapers.marketplace.crawl import crawl_command  # noqa: E402
from scrapers.marketplace.profile import SiteProfile  # noqa: E402

QUERY = "air-jordan-1"


def scroll_and_sleep(url: str, sleep_s: float) -> int:
    """The original Selenium loop, in Playwright: scroll, sleep, stop when the height stops changing."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=playwright_strategy.CHROMIUM, args=playwright_strategy.CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        last = 0
        while True:
            page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            time.sleep(sleep_s)
            height = page.evaluate("document.body.scrollHeight")
            if height == last:
                break
            last = height
        ids = page.eval_on_selector_all(".product-card", "cards => cards.map(c => c.dataset.id)")
        browser.close()
    return len(set(ids))


def chromium_memory_mb() -> float:
    """Proportional set size (shared pages split between processes) summed over every Chromium process."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if "Name:\tchrom" not in status.read_text() and "Name:\theadless_shell" not in status.read_text():
                continue
            for line in (status.parent / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listings", type=int, default=240)
    parser.add_argument(
        "--sleep", type=float, default=3.0, help="the original's fixed sleep per scroll (it used 3-5 s)"
    )
    parser.add_argument(
        "--big", type=int, nargs="*", default=[], help="catalogue sizes for the memory runs, e.g. 2000 20000"
    )
    args = parser.parse_args()

    config = MarketplaceConfig(
        catalogue=CatalogueConfig(listings_per_query=args.listings, queries=[QUERY]), duplicate_share=0.0
    )
    rates = {}
    with MarketplaceServer(config) as server:
        profile = SiteProfile.load(PROFILE, base_url=server.base_url, queries=[QUERY])
        records: list = []
        started = time.perf_counter()
        playwright_strategy.run(profile, records.append)
        rates["playwright_api_interception"] = len(records) / (time.perf_counter() - started)

        with tempfile.TemporaryDirectory() as tmp:
            profile_file = Path(tmp) / "p.yaml"
            import yaml

            profile_file.write_text(yaml.safe_dump(profile.to_dict()))
            done = subprocess.run(
                crawl_command("scrapy", profile_file, Path(tmp) / "o.jsonl"),
                cwd=REPO,
                capture_output=True,
                text=True,
                check=True,
            )
            stats = json.loads(done.stdout.strip().splitlines()[-1])
            rates["scrapy_api_pager"] = stats["items"] / stats["seconds"]

        started = time.perf_counter()
        found = scroll_and_sleep(profile.search_url(QUERY), args.sleep)
        rates[f"original_scroll_sleep_{args.sleep:g}s"] = found / (time.perf_counter() - started)

    baseline = rates[f"original_scroll_sleep_{args.sleep:g}s"]
    print(f"listings per second on {args.listings} sandbox listings (one query):")
    for name, rate in rates.items():
        print(f"  {name:<32} {rate:9.1f} /s   x{rate / baseline:6.1f} vs the original")

    for size in args.big:
        memory_run(size)


def memory_run(size: int) -> None:
    """One Playwright crawl of `size` listings while sampling Chromium's memory every half second."""
    big = MarketplaceConfig(catalogue=CatalogueConfig(listings_per_query=size, queries=[QUERY]), duplicate_share=0.0)
    with MarketplaceServer(big) as server:
        profile = SiteProfile.load(PROFILE, base_url=server.base_url, queries=[QUERY])
        peak, stop = [0.0], threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], chromium_memory_mb())
                time.sleep(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        count = [0]
        started = time.perf_counter()
        stats = playwright_strategy.run(profile, lambda r: count.__setitem__(0, count[0] + 1))
        seconds = time.perf_counter() - started
        stop.set()
        sampler.join()
    print(
        f"one crawl of {size} listings: {count[0]} scraped in {seconds:.0f}s ({count[0] / seconds:.0f}/s), "
        f"ended by {stats[0].ended_by}; peak Chromium memory (PSS) {peak[0]:.0f} MB"
    )


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
