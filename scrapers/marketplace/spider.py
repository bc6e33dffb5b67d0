"""Scrapy strategy: page a profile's `http` section (JSON API or server-rendered HTML) with no browser, politely.

A real spider: `scrapy runspider scrapers/marketplace/spider.py -a profile=PROFILE.yaml
-a base_url=http://127.0.0.1:8000 -O listings.jsonl`, or `cd scrapers/marketplace && scrapy crawl marketplace -a profile=...`.
It obeys robots.txt, adapts its pace with AutoThrottle and waits out 429s for the Retry-After the shop asks
for (Scrapy's own retry would hammer straight back). Every answer reaches the spider (HTTPERROR_ALLOW_ALL):
a non-2xx status the profile does not expect, after Scrapy's retries, is an error of that query's crawl,
recorded in its report, never an INFO line.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import scrapy
from scrapy.http import Response

from foundation.outbound import retry_after_seconds
from scrapers.marketplace.pager import PageError, Pager, PageRequest, QueryReport, decimal_separator
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
            return response  # the spider records it as an error of that query
        header = response.headers.get(b"Retry-After")
        asked = retry_after_seconds(header.decode("latin-1") if header else None, maximum=MAX_RETRY_AFTER_S)
        delay = 1.0 if asked is None else asked  # seconds or an HTTP-date; garbage or none: one second
        self.stats.inc_value("retry_after/429")
        self.stats.inc_value("retry_after/seconds_waited", delay)
        await asyncio.sleep(delay)
        return request.replace(dont_filter=True, meta={**request.meta, "retry_after_tries": tries})


def crawl_settings(concurrent_requests: int = 4) -> dict[str, Any]:
    return {
        "ROBOTSTXT_OBEY": True,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": 0.0,
        "AUTOTHROTTLE_MAX_DELAY": 10.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(concurrent_requests),
        "DOWNLOAD_DELAY": 0.0,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrent_requests,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408],
        "RETRY_TIMES": 3,
        "HTTPERROR_ALLOW_ALL": True,  # the spider judges every status (see the module docstring)
        "DOWNLOADER_MIDDLEWARES": {"scrapers.marketplace.spider.RetryAfterMiddleware": 560},
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "USER_AGENT": "storefront-scraper (+https://github.com/storefront)",
    }


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
            queries = [q for q in queries.split(",") if q]  # `-a queries=a,b` on the command line
        loaded = profile if isinstance(profile, SiteProfile) else SiteProfile.load(profile)
        if base_url or queries:
            overrides = {"base_url": base_url, "queries": queries}
            loaded = SiteProfile.from_dict(loaded.to_dict() | {k: v for k, v in overrides.items() if v})
        self.profile = loaded
        self.builder = ListingBuilder(loaded)
        self.pagers = {q: Pager(loaded, q) for q in loaded.queries}
        self.started = time.monotonic()

    @property
    def reports(self) -> list[QueryReport]:
        return [p.report for p in self.pagers.values()]

    @classmethod
    def update_settings(cls, settings: Any) -> None:
        super().update_settings(settings)
        settings.setdict(crawl_settings(), priority="spider")

    def _request(self, query: str, page: PageRequest) -> scrapy.Request:
        return scrapy.Request(
            page.url,
            method=page.method,
            headers=page.headers,
            body=page.body,
            callback=self.parse_page,
            errback=self.on_error,
            cb_kwargs={"query": query},
            dont_filter=True,  # repeated pages are the pager's to judge, with a reason, not a silent filter
        )

    async def start(self) -> Any:
        for query, pager in self.pagers.items():
            yield self._request(query, pager.first_request())

    def parse_page(self, response: Response, query: str) -> Iterator[Any]:
        pager = self.pagers[query]
        report = pager.report
        headers = {k.decode(): b", ".join(v).decode() for k, v in response.headers.items()}
        try:
            page = pager.parse(response.status, headers, response.text, response.url)
        except PageError as err:
            self._fail(report, str(err))
            return
        now = datetime.now(UTC)
        separator = decimal_separator(pager.http.items.fields)
        for values in page.items:
            try:
                record = self.builder.build(values, query, now, separator)
            except ValueError as err:
                report.rejected += 1
                yield {"reject": str(err), "raw": _jsonable(values), "query": query}
                continue
            yield record
        if page.next is None:
            report.stop_reason = page.stop_reason
            report.seconds = round(time.monotonic() - self.started, 3)
        else:
            yield self._request(query, page.next)

    def on_error(self, failure: Any) -> None:
        query = failure.request.cb_kwargs["query"]
        self._fail(self.pagers[query].report, f"{failure.type.__name__}: {failure.getErrorMessage()}")

    def _fail(self, report: QueryReport, message: str) -> None:
        report.errors.append(message)
        report.stop_reason = "error"
        report.seconds = round(time.monotonic() - self.started, 3)
        self.logger.error(f"{report.query}: {message}")


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, str | int | float | bool | list | dict) or v is None else str(v)
        for k, v in values.items()
    }
