"""Listings per second per loading pattern and strategy on the shop test kit (sandbox/shops), against a fair
naive baseline (the seed's approach): a browser with images blocked that scrolls until no new cards appear, then
reads the cards; and, where a shop pages over HTTP (`pages`: a JSON API, `html`: rel=next links), against the peer
a user would write first: a plain Scrapy spider for that one site, without our profile engine (Scrapy's defaults,
retries included; no field parsing, no quarantine).

    .venv/bin/python benchmarks/bench_sneakers_scraping.py [--per-query 45] [--repeats 3] [--big 2000 20000]
        [--shops pages html]

Every method is timed the same way: one wall clock around a child process that does the whole crawl (process
start, imports, browser start, crawl), repeated; the table shows the median rate, the range, and items
captured of the catalogue (the naive baseline may capture less: it reads a virtualised list once at the end).
`--big N ...` also scrolls one sandbox-marketplace query of N listings with the Playwright strategy and
reports the browser's peak resident memory (all Chromium processes), bounded because cards are pruned.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from foundation.browser import launch_options  # noqa: E402
from sandbox.shops.server import SHOPS, KitConfig, ShopKitServer, profile_path  # noqa: E402
from scrapers.marketplace import playwright_strategy  # noqa: E402
from scrapers.marketplace.crawl import crawl_command  # noqa: E402
from scrapers.marketplace.profile import SiteProfile  # noqa: E402

# The naive baseline where a shop's page scrolls: (page, scrolling element, card selector, id attribute).
NAIVE = {
    "cursor": ("/cursor/search?q={query}", "window", ".card", "data-sku"),
    "pages": ("/pages/search?q={query}", "#results", ".card", "data-id"),
    "virtual": ("/virtual/search?q={query}", "#viewport", ".row", "data-id"),
}
NAIVE_QUIET_ROUNDS = 3  # rounds of 250 ms without a new card: "the page stopped loading"
PLAIN_SCRAPY = ("pages", "html")


def plain_scrapy(base_url: str, shop: str, queries: list[str]) -> int:
    """A hand-written Scrapy spider for one shop: follow its pages, count distinct listing ids."""
    import scrapy
    from scrapy.crawler import CrawlerProcess

    seen: set[str] = set()

    def api(query: str, page: int) -> str:
        return f"{base_url}/pages/api/search?q={query}&page={page}&per_page=10"

    class Plain(scrapy.Spider):
        name = "plain"

        async def start(self):  # noqa: ANN202 - Scrapy's hook (start_requests before 2.13)
            for query in queries:
                if shop == "pages":
                    yield scrapy.Request(api(query, 1), cb_kwargs={"query": query, "page": 1})
                else:
                    yield scrapy.Request(f"{base_url}/html/search?q={query}")

        def parse(self, response, query: str = "", page: int = 0):  # noqa: ANN001, ANN202
            if shop == "pages":
                data = response.json()
                seen.update(str(item["id"]) for item in data["items"])
                if page * 10 < data["total"]:
                    yield scrapy.Request(api(query, page + 1), cb_kwargs={"query": query, "page": page + 1})
            else:
                seen.update(response.css("li.product::attr(data-sku)").getall())
                following = response.css("a[rel=next]::attr(href)").get()
                if following:
                    yield response.follow(following)

    process = CrawlerProcess({"LOG_LEVEL": "ERROR", "ROBOTSTXT_OBEY": False, "TELNETCONSOLE_ENABLED": False})
    process.crawl(Plain)
    process.start()
    return len(seen)


def naive_scroll(base_url: str, shop: str, queries: list[str]) -> int:
    """Scroll to the bottom until no new cards for NAIVE_QUIET_ROUNDS rounds, images blocked; count the cards."""
    from playwright.sync_api import sync_playwright

    url, target, cards, attribute = NAIVE[shop]
    scroll = (
        "window.scrollTo(0, document.body.scrollHeight)"
        if target == "window"
        else (f"(() => {{ const el = document.querySelector('{target}'); el.scrollTop = el.scrollHeight; }})()")
    )
    found = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options(args=playwright_strategy.CHROMIUM_ARGS))
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.route(
            "**/*", lambda r: r.abort() if r.request.resource_type in ("image", "media", "font") else r.continue_()
        )
        for query in queries:
            page.goto(base_url + url.format(query=query))
            count, quiet = 0, 0
            while quiet < NAIVE_QUIET_ROUNDS:
                page.evaluate(scroll)
                page.wait_for_timeout(250)
                now = page.eval_on_selector_all(cards, "cs => cs.length")
                quiet, count = (0, now) if now > count else (quiet + 1, count)
            found += len(set(page.eval_on_selector_all(cards, f"cs => cs.map(c => c.getAttribute('{attribute}'))")))
        browser.close()
    return found


def timed(command: list[str], count: callable) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    return seconds, count(done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-query", type=int, default=45, help="products per query (2 queries per shop)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--big", type=int, nargs="*", default=[], help="Playwright memory runs of N listings")
    parser.add_argument("--shops", nargs="+", choices=SHOPS, default=list(SHOPS), help="loading patterns to run")
    parser.add_argument("--naive-child", nargs=2, metavar=("BASE_URL", "SHOP"), help=argparse.SUPPRESS)
    parser.add_argument("--scrapy-child", nargs=2, metavar=("BASE_URL", "SHOP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive_child:
        base_url, shop = args.naive_child
        print(naive_scroll(base_url, shop, ["jordans", "dunks"]))
        return
    if args.scrapy_child:
        base_url, shop = args.scrapy_child
        print(plain_scrapy(base_url, shop, ["jordans", "dunks"]))
        return

    rows = []
    with ShopKitServer(KitConfig(per_query=args.per_query)) as server, tempfile.TemporaryDirectory() as tmp:
        for shop in args.shops:
            total = len(server.kit.expected(shop))
            methods = {}
            for strategy in SiteProfile.load(profile_path(shop)).strategies:
                out = Path(tmp) / f"{shop}-{strategy}.jsonl"
                command = crawl_command(strategy, profile_path(shop), out, server.base_url)
                methods[strategy] = (command, lambda done: json.loads(done.stdout.strip().splitlines()[-1])["items"])
            if shop in NAIVE:
                command = [sys.executable, __file__, "--naive-child", server.base_url, shop]
                methods["naive scroll"] = (command, lambda done: int(done.stdout.strip().splitlines()[-1]))
            if shop in PLAIN_SCRAPY:
                command = [sys.executable, __file__, "--scrapy-child", server.base_url, shop]
                methods["plain Scrapy"] = (command, lambda done: int(done.stdout.strip().splitlines()[-1]))
            results = {}
            for name, (command, count) in methods.items():
                runs = [timed(command, count) for _ in range(args.repeats)]
                rates = [items / seconds for seconds, items in runs]
                results[name] = (statistics.median(rates), min(rates), max(rates), min(items for _, items in runs))
            naive = results.get("naive scroll", (None,))[0]
            peer = results.get("plain Scrapy", (None,))[0]
            for name, (median, low, high, items) in results.items():
                versus = f"x{median / naive:5.2f}" if naive else "     -"
                versus_peer = f"x{median / peer:5.2f}" if peer else "     -"
                rows.append(
                    f"  {shop:<9} {name:<13} {items:>4}/{total:<4} {median:7.1f}/s  [{low:6.1f} - {high:6.1f}]"
                    f"  {versus}  {versus_peer}"
                )
    print(f"listings/s per pattern and method: median of {args.repeats}, [range], items captured of the catalogue,")
    print("rate relative to the naive scroll baseline and to a plain Scrapy spider (wall clock around the whole")
    print("child process each time)")
    print("\n".join(rows))
    for size in args.big:
        memory_run(size)


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
        except (OSError, ValueError):
            continue
    return total / 1024


def memory_run(size: int) -> None:
    """One Playwright crawl of `size` sandbox-marketplace listings while sampling Chromium's memory."""
    from sandbox.sneakers.catalogue import CatalogueConfig
    from sandbox.sneakers.marketplace import PROFILE, MarketplaceConfig, MarketplaceServer

    query = "air-jordan-1"
    big = MarketplaceConfig(catalogue=CatalogueConfig(listings_per_query=size, queries=[query]), duplicate_share=0.0)
    with MarketplaceServer(big) as server:
        profile = SiteProfile.load(PROFILE, base_url=server.base_url, queries=[query])
        peak, stop = [0.0], threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], chromium_memory_mb())
                time.sleep(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        count = [0]
        started = time.perf_counter()
        reports = playwright_strategy.run(profile, lambda r: count.__setitem__(0, count[0] + 1))
        seconds = time.perf_counter() - started
        stop.set()
        sampler.join()
    print(
        f"one crawl of {size} listings: {count[0]} scraped in {seconds:.0f}s ({count[0] / seconds:.0f}/s), "
        f"stopped by {reports[0].stop_reason}; peak Chromium memory (PSS) {peak[0]:.0f} MB"
    )


if __name__ == "__main__":
    main()
