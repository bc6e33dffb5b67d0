"""One crawl in its own process: `python -m scrapers.marketplace.crawl --strategy scrapy --profile P --out F`.

Crawls run in a child process because Twisted's reactor cannot be restarted inside a long-lived Dagster
worker (and a crashed browser must not take the worker down). Under Dagster Pipes the child reports progress
as log lines and its final stats as a custom message; outside Dagster it prints them. Records (listings, and
rejects as {"reject": reason, "raw": item}) go to a JSON-lines file.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from scrapers.marketplace.profile import SiteProfile

STRATEGIES = ("playwright", "scrapy")


def run_playwright(profile: SiteProfile, out: TextIO, log: Any) -> dict[str, Any]:
    from scrapers.marketplace import playwright_strategy

    def progress(stats: playwright_strategy.QueryStats) -> None:
        log.info(
            f"query {stats.query}: {stats.items} listings, {stats.duplicates} duplicates, "
            f"{stats.rate_limited} x 429, ended by {stats.ended_by} in {stats.seconds:.1f}s"
        )

    per_query = playwright_strategy.run(profile, lambda r: out.write(json.dumps(r) + "\n"), progress)
    return {
        "per_query": [asdict(s) for s in per_query],
        "items": sum(s.items for s in per_query),
        "duplicates": sum(s.duplicates for s in per_query),
        "rate_limited": sum(s.rate_limited for s in per_query),
    }


def run_scrapy(profile: SiteProfile, out: TextIO, log: Any) -> dict[str, Any]:
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    from scrapers.marketplace.spider import MarketplaceSpider, crawl_settings

    process = CrawlerProcess(settings=crawl_settings(profile))
    crawler = process.create_crawler(MarketplaceSpider)
    counts = {"written": 0}

    def on_item(item: dict[str, Any], **_: Any) -> None:
        out.write(json.dumps(dict(item)) + "\n")
        counts["written"] += 1
        if counts["written"] % 1000 == 0:
            log.info(f"{counts['written']} records so far")

    crawler.signals.connect(on_item, signal=signals.item_scraped)
    process.crawl(crawler, profile=profile)
    process.start()
    stats = {k: v for k, v in (crawler.stats.get_stats() or {}).items() if isinstance(v, int | float | str)}
    if stats.get("finish_reason") != "finished":
        raise RuntimeError(f"scrapy crawl did not finish cleanly: {stats.get('finish_reason')}")
    return {
        "items": stats.get("listings/items", 0),
        "duplicates": stats.get("listings/duplicates", 0),
        "rate_limited": stats.get("retry_after/429", 0),
        "scrapy": stats,
    }


def crawl(strategy: str, profile: SiteProfile, out_path: Path, log: Any) -> dict[str, Any]:
    started = time.perf_counter()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as out:
        stats = (run_playwright if strategy == "playwright" else run_scrapy)(profile, out, log)
    stats |= {
        "strategy": strategy,
        "seconds": round(time.perf_counter() - started, 3),
        "peak_rss_mb_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_rss_mb_children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }
    return stats


def crawl_command(
    strategy: str, profile: str | Path, out: str | Path, base_url: str | None = None, queries: Sequence[str] = ()
) -> list[str]:
    """The command line of one crawl in a child process (Dagster Pipes, `storefront scrape`, tests)."""
    command = [
        sys.executable,
        "-m",
        "scrapers.marketplace.crawl",
        "--strategy",
        strategy,
        "--profile",
        str(profile),
        "--out",
        str(out),
    ]
    if base_url:
        command += ["--base-url", base_url]
    for query in queries:
        command += ["--query", query]
    return command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", choices=STRATEGIES, default="scrapy")
    parser.add_argument("--profile", required=True, help="site profile YAML")
    parser.add_argument("--base-url")
    parser.add_argument("--query", action="append", help="override the profile's queries (repeatable)")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    profile = SiteProfile.load(args.profile, base_url=args.base_url, queries=args.query)

    from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes

    with ExitStack() as stack:
        if PipesEnvVarParamsLoader().is_dagster_pipes_process():
            pipes = stack.enter_context(open_dagster_pipes())
            stats = crawl(args.strategy, profile, args.out, pipes.log)
            pipes.report_custom_message(stats)
        else:
            import logging

            logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
            stats = crawl(args.strategy, profile, args.out, logging.getLogger("crawl"))
            print(json.dumps(stats, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
