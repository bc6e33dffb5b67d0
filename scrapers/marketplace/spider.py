"""Scrapy strategy: page the marketplace's JSON API directly (no browser), politely.

A real spider: `scrapy runspider scrapers/marketplace/spider.py -a profile=PROFILE.yaml
-a base_url=http://127.0.0.1:8000 -O listings.jsonl`, or `cd scrapers/marketplace && scrapy crawl marketplace -a profile=...`
(the sandbox shop's profile is sandbox/sneakers/marketplace_profile.yaml).
It obeys robots.txt, adapts its pace with AutoThrottle and waits out 429s for the Retry-After the shop asks
for (Scrapy's own retry would hammer straight back). Shops whose listings only exist in rendered pages can set
`render_with_browser` to fetch the search page through scrapy-playwright instead.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import scrapy
from scrapy.http import Response

from scrapers.marketplace.profile import ListingBuilder, SiteProfile

MAX_RETRY_AFTER_S = 60
MAX_429_RETRIES = 8


class RetryAfterMiddleware:
    """On 429, wait the Retry-After seconds (without blocking other requests), then ask again."""

    def __init__(self, crawler: Any) -> None:
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Any) -> RetryAfterMiddleware:
        return cls(crawler)

    async def process_response(
        self, request: scrapy.Request, response: Response, spider: scrapy.Spider | None = None
    ) -> Any:
        if response.status != 429:
            return response
        tries = request.meta.get("retry_after_tries", 0) + 1
        if tries > MAX_429_RETRIES:
            raise scrapy.exceptions.IgnoreRequest(f"still 429 after {MAX_429_RETRIES} retries: {request.url}")
        header = (response.headers.get(b"Retry-After") or b"1").decode()
        delay = min(float(header) if header.replace(".", "", 1).isdigit() else 1.0, MAX_RETRY_AFTER_S)
        self.stats.inc_value("retry_after/429")
        self.stats.inc_value("retry_after/seconds_waited", delay)
        await asyncio.sleep(delay)
        return request.replace(dont_filter=True, meta={**request.meta, "retry_after_tries": tries})


def crawl_settings(profile: SiteProfile) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "ROBOTSTXT_OBEY": True,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": 0.0,
        "AUTOTHROTTLE_MAX_DELAY": 10.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(profile.concurrent_requests),
        "DOWNLOAD_DELAY": 0.0,
        "CONCURRENT_REQUESTS_PER_DOMAIN": profile.concurrent_requests,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408],
        "RETRY_TIMES": 3,
        "DOWNLOADER_MIDDLEWARES": {"scrapers.marketplace.spider.RetryAfterMiddleware": 560},
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "USER_AGENT": "storefront-scraper (+https://github.com/storefront)",
    }
    if profile_needs_browser(profile):
        settings["DOWNLOAD_HANDLERS"] = {
            "http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
            "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
        }
        from scrapers.marketplace.playwright_strategy import CHROMIUM, CHROMIUM_ARGS

        settings["PLAYWRIGHT_LAUNCH_OPTIONS"] = {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}
        settings["PLAYWRIGHT_ABORT_REQUEST"] = _abort_heavy_request
    return settings


def _abort_heavy_request(request: Any) -> bool:
    return request.resource_type in ("image", "media", "font")


SCROLL_TO_END_JS = """async ([endSelector, maxRounds]) => {
  for (let i = 0; i < maxRounds; i++) {
    window.scrollTo(0, document.body.scrollHeight);
    await new Promise(r => setTimeout(r, 100));
    const end = document.querySelector(endSelector);
    if (end && end.offsetParent !== null) return i;
  }
  return -1;
}"""


def profile_needs_browser(profile: SiteProfile) -> bool:
    return not profile.api_path


class MarketplaceSpider(scrapy.Spider):
    name = "marketplace"

    def __init__(
        self,
        profile: str | SiteProfile,
        base_url: str | None = None,
        queries: str | list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(queries, str):
            queries = [q for q in queries.split(",") if q]
        loaded = profile if isinstance(profile, SiteProfile) else SiteProfile.load(profile)
        self.profile = loaded.with_overrides(base_url=base_url, queries=queries or None)
        self.builder = ListingBuilder(self.profile)
        self.seen: dict[str, set[str]] = {q: set() for q in self.profile.queries}

    @classmethod
    def update_settings(cls, settings: Any) -> None:
        super().update_settings(settings)
        settings.setdict(crawl_settings(SiteProfile(name="default", base_url="")), priority="spider")

    def _api_request(self, query: str, cursor: str | None) -> scrapy.Request:
        p = self.profile
        params = {p.query_param: query, p.limit_param: p.page_size}
        if cursor:
            params[p.cursor_param] = cursor
        return scrapy.Request(f"{p.api_url()}?{urlencode(params)}", callback=self.parse_api, cb_kwargs={"query": query})

    async def start(self) -> Any:
        for query in self.profile.queries:
            yield (
                self._rendered_request(query) if profile_needs_browser(self.profile) else self._api_request(query, None)
            )

    def _rendered_request(self, query: str) -> scrapy.Request:
        from scrapy_playwright.page import PageMethod

        scroll = PageMethod("evaluate", SCROLL_TO_END_JS, [self.profile.end_marker_selector, self.profile.max_rounds])
        return scrapy.Request(
            self.profile.search_url(query),
            callback=self.parse_rendered,
            cb_kwargs={"query": query},
            meta={"playwright": True, "playwright_page_methods": [scroll]},
        )

    def parse_rendered(self, response: Response, query: str) -> Iterator[Any]:
        """Cards of a page scrolled to its end in a browser, read with the profile's card selectors."""
        now = datetime.now(UTC)
        for card in response.css(self.profile.card_selector):
            fields = self.profile.item_fields
            item = {fields[key]: card.css(selector).get() for key, selector in self.profile.card_fields.items()}
            yield from self._emit(item, query, now)

    def _emit(self, item: dict[str, Any], query: str, now: datetime) -> Iterator[dict[str, Any]]:
        item_id = str(item.get(self.profile.item_fields["id"]) or "")
        if item_id and item_id in self.seen[query]:
            self.crawler.stats.inc_value("listings/duplicates")
            return
        try:
            record = self.builder.build(item, query, now)
        except ValueError as err:
            self.crawler.stats.inc_value("listings/rejected")
            yield {"reject": str(err), "raw": item, "query": query}
            return
        self.seen[query].add(item_id)
        self.crawler.stats.inc_value("listings/items")
        yield record

    def parse_api(self, response: Response, query: str) -> Iterator[Any]:
        p = self.profile
        payload = json.loads(response.text)
        now = datetime.now(UTC)
        for item in payload.get(p.items_field) or []:
            yield from self._emit(item, query, now)
        if payload.get(p.has_next_field) and payload.get(p.next_cursor_field) and len(self.seen[query]) < p.max_items:
            yield self._api_request(query, payload[p.next_cursor_field])
