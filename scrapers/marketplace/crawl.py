"""One crawl in its own process: `python -m scrapers.marketplace.crawl --strategy scrapy --profile P --out F`.

Crawls run in a child process because Twisted's reactor cannot be restarted inside a long-lived Dagster
worker (and a crashed browser must not take the worker down). Under Dagster Pipes the child reports progress
as log lines and its final stats as a custom message; outside Dagster it prints them as the last line of
stdout (JSON) and exits 3 when the crawl is incomplete. Records (listings, and rejects as
{"reject": reason, "raw": item}) go to a JSON-lines file.

The stats carry, per query, the evidence of completeness: why the crawl stopped, pages, items captured,
items the site said to expect, duplicates, rejects and errors; `complete` is false, with `problems`, when
any query stopped on an error or captured fewer items than expected (beyond the profile's tolerance).
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

from scrapers.marketplace.pager import QueryReport
from scrapers.marketplace.profile import SiteProfile

STRATEGIES = ("playwright", "scrapy")
INCOMPLETE_EXIT = 3


def run_playwright(profile: SiteProfile, out: TextIO, log: Any) -> tuple[list[QueryReport], dict[str, Any]]:
    from scrapers.marketplace import playwright_strategy

    def progress(r: QueryReport) -> None:
        log.info(
            f"query {r.query}: {r.items} items of {r.expected if r.expected is not None else '?'} expected, "
            f"{r.duplicates} duplicates, {r.rate_limited} x 429, stopped by {r.stop_reason} in {r.seconds:.1f}s"
        )

    reports = playwright_strategy.run(profile, lambda r: out.write(json.dumps(r) + "\n"), progress)
    return reports, {}


def run_scrapy(profile: SiteProfile, out: TextIO, log: Any) -> tuple[list[QueryReport], dict[str, Any]]:
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    from scrapers.marketplace.spider import MarketplaceSpider, crawl_settings

    process = CrawlerProcess(settings=crawl_settings(profile.concurrent_requests))
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
    reports = crawler.spider.reports
    if stats.get("finish_reason") != "finished":
        for r in reports:
            r.errors.append(f"scrapy finished with {stats.get('finish_reason')!r}")
            r.stop_reason = "error"
    for r in reports:
        if not r.stop_reason:  # a request Scrapy dropped (e.g. robots.txt) ended the walk without a page
            r.errors.append(f"no answer to follow (robots.txt forbidden: {stats.get('robotstxt/forbidden', 0)})")
            r.stop_reason = "error"
    return reports, {"rate_limited": int(stats.get("retry_after/429", 0)), "scrapy": stats}


def summarise(strategy: str, profile: SiteProfile, reports: list[QueryReport]) -> dict[str, Any]:
    """The crawl's stats: totals, per-query reports and whether the result is complete."""
    section = profile.http if strategy == "scrapy" else profile.browser
    tolerance = section.stop.tolerance if strategy == "scrapy" else section.tolerance  # type: ignore[union-attr]
    problems = [p for r in reports for p in r.problems(tolerance)]
    expected = [r.expected for r in reports]
    return {
        "strategy": strategy,
        "complete": not problems,
        "problems": problems,
        "items": sum(r.items - r.rejected for r in reports),
        "expected": sum(expected) if all(e is not None for e in expected) else None,
        "pages": sum(r.pages for r in reports),
        "duplicates": sum(r.duplicates for r in reports),
        "rejected": sum(r.rejected for r in reports),
        "rate_limited": sum(r.rate_limited for r in reports),
        "errors": [e for r in reports for e in r.errors],
        "stop_reasons": {r.query: r.stop_reason for r in reports},
        "per_query": [asdict(r) for r in reports],
    }


def crawl(strategy: str, profile: SiteProfile, out_path: Path, log: Any) -> dict[str, Any]:
    if strategy not in profile.strategies:
        raise ValueError(
            f"profile {profile.name!r} has no {'http' if strategy == 'scrapy' else 'browser'} section, so the "
            f"{strategy} strategy does not apply (it supports: {', '.join(profile.strategies)})"
        )
    started = time.perf_counter()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as out:
        reports, extra = (run_playwright if strategy == "playwright" else run_scrapy)(profile, out, log)
    stats = summarise(strategy, profile, reports)
    if "rate_limited" in extra:
        stats["rate_limited"] = extra.pop("rate_limited")
    stats |= extra | {
        "seconds": round(time.perf_counter() - started, 3),
        "peak_rss_mb_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_rss_mb_children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }
    for problem in stats["problems"]:
        log.error(problem)
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
            pipes.report_custom_message(stats)  # the asset judges completeness, with this evidence
            return 0
        import logging

        # Our own handler, not basicConfig: Scrapy lowers the root logger to DEBUG and would print every item.
        log = logging.getLogger("storefront.crawl")
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
        stats = crawl(args.strategy, profile, args.out, log)
        print(json.dumps(stats, default=str))
    return 0 if stats["complete"] else INCOMPLETE_EXIT


if __name__ == "__main__":
    sys.exit(main())
