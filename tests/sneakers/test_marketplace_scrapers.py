"""Both scraping strategies against the sandbox marketplace (cursor API behind an infinite scroll), with its
429s, slow pages and re-sent cards switched on; robots.txt is obeyed."""

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from foundation.resources import REPO_ROOT
from sandbox.sneakers.catalogue import CatalogueConfig
from sandbox.sneakers.marketplace import PROFILE, MarketplaceConfig, MarketplaceServer
from scrapers.marketplace.crawl import crawl_command
from scrapers.marketplace.profile import SiteProfile

QUERIES = ["air-jordan-1", "yeezy-slide", "new-balance-550"]


def crawl(strategy: str, profile: SiteProfile, out: Path) -> tuple[list[dict], dict]:
    """Run one crawl as the pipeline does: in a child process, from a profile file."""
    profile_file = out.with_suffix(".yaml")
    profile_file.write_text(yaml.safe_dump(profile.to_dict()))
    done = subprocess.run(
        crawl_command(strategy, profile_file, out), cwd=REPO_ROOT, capture_output=True, text=True, timeout=240
    )
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    return [json.loads(line) for line in out.read_text().splitlines()], stats


@pytest.fixture(scope="module")
def marketplace():
    config = MarketplaceConfig(
        catalogue=CatalogueConfig(seed=11, listings_per_query=90, queries=QUERIES),
        duplicate_share=0.5,
        rate_limit_every=4,
        retry_after_s=1,
        slow_every=3,
        slow_s=0.3,
    )
    with MarketplaceServer(config) as server:
        yield server


@pytest.mark.slow
def test_both_strategies_agree_exactly_on_the_catalogue(marketplace, tmp_path):
    profile = SiteProfile.load(PROFILE, base_url=marketplace.base_url, queries=QUERIES)
    profile.http.page_size = 30
    expected = marketplace.shop.expected_ids(QUERIES)
    results = {}
    for strategy in ("scrapy", "playwright"):
        before = marketplace.shop.stats.rate_limited
        records, stats = crawl(strategy, profile, tmp_path / f"{strategy}.jsonl")
        ids = [r["listing_id"] for r in records if "reject" not in r]
        assert len(ids) == len(set(ids)), f"{strategy} emitted duplicates"
        assert set(ids) == expected, (
            f"{strategy}: missing {sorted(expected - set(ids))[:5]}, extra {sorted(set(ids) - expected)[:5]}"
        )
        assert marketplace.shop.stats.rate_limited > before, "the sandbox served no 429 to this strategy"
        assert stats["rate_limited"] >= 1
        assert stats["duplicates"] >= 1  # the shop re-sent cards, the scraper dropped them
        assert stats["complete"] and set(stats["stop_reasons"].values()) == {"has_next_false"}
        assert stats["expected"] == len(expected) == stats["items"]
        results[strategy] = {r["listing_id"]: r for r in records}
    # Same records, not just the same ids (scraped_at aside).
    for listing_id, record in results["scrapy"].items():
        other = results["playwright"][listing_id]
        assert {k: v for k, v in record.items() if k != "scraped_at"} == {
            k: v for k, v in other.items() if k != "scraped_at"
        }
    sample = results["scrapy"][min(expected)]
    assert (
        sample["model"] == "AJ 1"
        and sample["brand"] == "AIR JORDAN"
        and sample["source_url"].startswith(marketplace.base_url)
    )


@pytest.mark.slow
def test_scrapy_obeys_robots_txt_and_says_so_instead_of_succeeding_empty(marketplace, tmp_path):
    profile = SiteProfile.load(PROFILE, base_url=marketplace.base_url, queries=QUERIES[:1])
    profile.http.request.url = "/api/internal/search"
    records, stats = crawl("scrapy", profile, tmp_path / "robots.jsonl")
    assert records == []
    assert stats["scrapy"].get("robotstxt/forbidden") == 1
    assert not stats["complete"] and "Forbidden by robots.txt" in stats["errors"][0]


def test_profiles_reject_unknown_fields():
    with pytest.raises(ValueError, match="cards: unknown field"):
        SiteProfile.from_dict({"name": "x", "base_url": "http://x", "queries": ["q"], "cards": ".c"})
