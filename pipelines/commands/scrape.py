"""`storefront scrape --profile P --out listings.jsonl`: one marketplace crawl outside Dagster.

Paths are taken as given, relative to the current directory (the crawl itself runs from the repo root so
its packages import). At the end it prints what the crawl's completeness rests on: items captured, items
expected (when the site says), pages, stop reason and errors per query; an incomplete crawl exits 3.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from assets.sneakers.partitions import add_queries
from foundation.resources import REPO_ROOT
from scrapers.marketplace.crawl import crawl_command
from scrapers.marketplace.profile import ProfileError, SiteProfile


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("scrape", help="scrape a marketplace described by a site profile into JSON lines")
    parser.add_argument(
        "--profile",
        required=True,
        help="site profile YAML (e.g. sandbox/sneakers/marketplace_profile.yaml, sandbox/shops/profiles/*.yaml)",
    )
    parser.add_argument("--out", required=True, help="JSON-lines file of listing records")
    parser.add_argument("--strategy", choices=("scrapy", "playwright"), default="scrapy")
    parser.add_argument("--base-url", help="override the profile's base_url")
    parser.add_argument("--query", action="append", help="override the profile's queries (repeatable)")
    parser.add_argument(
        "--register",
        action="store_true",
        help="instead of scraping, add the profile's queries as sneaker partitions of the Dagster instance",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    profile_path, out = Path(args.profile).resolve(), Path(args.out).resolve()  # the user's cwd, not the repo's
    try:
        profile = SiteProfile.load(profile_path, base_url=args.base_url, queries=args.query)
    except (OSError, ProfileError) as err:
        print(f"error: {err}")
        return 2
    if args.register:
        import dagster as dg

        with dg.DagsterInstance.get() as instance:
            added = add_queries(instance, profile.queries)
        print(f"{len(added)} new partitions of sneaker_queries: {', '.join(added) or '(none)'}")
        return 0
    # A child process, as in Dagster: Scrapy's reactor cannot be restarted in a process that used it.
    command = crawl_command(args.strategy, profile_path, out, args.base_url, args.query or ())
    done = subprocess.run(command, cwd=REPO_ROOT, check=False, stdout=subprocess.PIPE, text=True)
    lines = done.stdout.strip().splitlines()
    try:
        stats = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        print(done.stdout)
        print(f"the crawl ended with exit status {done.returncode} and no stats")
        return done.returncode or 1
    print(summary(stats, out))
    return done.returncode


def summary(stats: dict, out: Path) -> str:
    expected = stats.get("expected")
    lines = [
        f"{stats['items']} items captured of {expected if expected is not None else 'unknown'} expected, "
        f"{stats['pages']} pages, {stats['duplicates']} duplicates, {stats['rejected']} rejected, "
        f"{stats['rate_limited']} x 429 ({stats['strategy']}, {stats['seconds']:.1f}s) -> {out}",
    ]
    for r in stats.get("per_query", []):
        lines.append(
            f"  {r['query']}: {r['items']} items of {r['expected'] if r['expected'] is not None else '?'}, "
            f"{r['pages']} pages, stopped by {r['stop_reason']}"
            + (f", errors: {'; '.join(r['errors'][:3])}" if r["errors"] else "")
        )
    lines.append("complete" if stats.get("complete") else "INCOMPLETE: " + "; ".join(stats.get("problems", [])))
    return "\n".join(lines)
