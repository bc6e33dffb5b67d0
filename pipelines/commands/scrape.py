"""`storefront scrape --profile P --out listings.jsonl`: one marketplace crawl outside Dagster."""

from __future__ import annotations

import argparse
import subprocess

from foundation.resources import REPO_ROOT
from scrapers.marketplace.crawl import crawl_command


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("scrape", help="scrape a marketplace described by a site profile into JSON lines")
    parser.add_argument(
        "--profile",
        required=True,
        help="site profile YAML (e.g. the sandbox's sandbox/sneakers/marketplace_profile.yaml)",
    )
    parser.add_argument("--out", required=True, help="JSON-lines file of listing records")
    parser.add_argument("--strategy", choices=("scrapy", "playwright"), default="scrapy")
    parser.add_argument("--base-url", help="override the profile's base_url")
    parser.add_argument("--query", action="append", help="override the profile's queries (repeatable)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # A child process, as in Dagster: Scrapy's reactor cannot be restarted in a process that used it.
    command = crawl_command(args.strategy, args.profile, args.out, args.base_url, args.query or ())
    return subprocess.run(command, cwd=REPO_ROOT, check=False).returncode
