"""Playwright strategy: drive real Chromium through the infinite scroll and keep the page's own API answers.

Reading the JSON the page fetches (instead of parsing rendered cards) gives exact prices and ids and an
exact end signal (`has_next: false`); the visible end marker and "no new items for K rounds" are fallbacks
for shops whose API says less. Images, fonts and media are blocked (the image asset fetches each image once
later) and rendered cards are pruned from the DOM, so browser memory stays bounded on 20k-item scrolls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from foundation.browser import CHROMIUM
from foundation.browser import CHROMIUM_ARGS as BASE_CHROMIUM_ARGS
from scrapers.marketplace.profile import ListingBuilder, SiteProfile

# Long infinite-scroll sessions outgrow a small /dev/shm.
CHROMIUM_ARGS = [*BASE_CHROMIUM_ARGS, "--disable-dev-shm-usage"]
PRUNE_CARDS_JS = """([selector, keep]) => {
  const cards = document.querySelectorAll(selector);
  for (let i = 0; i < cards.length - keep; i++) cards[i].remove();
  return cards.length;
}"""


@dataclass
class QueryStats:
    query: str
    items: int = 0
    duplicates: int = 0
    rejected: int = 0
    api_responses: int = 0
    rate_limited: int = 0
    rounds: int = 0
    ended_by: str = ""
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


Emit = Callable[[dict[str, Any]], None]


async def _crawl_query(page: Any, profile: SiteProfile, query: str, builder: ListingBuilder, emit: Emit) -> QueryStats:
    stats = QueryStats(query)
    payloads: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    seen: set[str] = set()
    reading = [0]  # API bodies still being read: the page may show its end before we have its last page

    async def on_response(response: Any) -> None:
        if profile.api_url_pattern not in response.url:
            return
        if response.status == 429:
            stats.rate_limited += 1  # the page itself waits Retry-After and asks again
            return
        if response.ok:
            reading[0] += 1
            try:
                await payloads.put(await response.json())
            except Exception:  # noqa: BLE001 - a navigation can cut a body short; the page retries
                pass
            finally:
                reading[0] -= 1

    page.on("response", on_response)
    started = time.monotonic()
    await page.goto(profile.search_url(query), wait_until="domcontentloaded")
    api_done, idle, marker_rounds = False, 0, 0
    try:
        while True:
            stats.rounds += 1
            before = stats.items
            await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            try:
                payload = await asyncio.wait_for(payloads.get(), timeout=0.5)
                batch = [payload]
                while not payloads.empty():
                    batch.append(payloads.get_nowait())
            except TimeoutError:
                batch = []
            for payload in batch:
                stats.api_responses += 1
                for item in payload.get(profile.items_field) or []:
                    _take(item, query, builder, seen, stats, emit)
                if payload.get(profile.has_next_field) is False:
                    api_done = True
            if stats.rounds % 5 == 0:
                await page.evaluate(PRUNE_CARDS_JS, [profile.card_selector, profile.keep_cards])
            idle = 0 if stats.items > before else idle + 1
            elapsed = time.monotonic() - started
            if api_done:
                stats.ended_by = "api_end"
            elif (
                not batch
                and not reading[0]
                and profile.end_marker_selector
                and await page.is_visible(profile.end_marker_selector)
            ):
                # Response events reach Python after the page has rendered them: trust the marker only
                # when a further round brought no API answer either.
                marker_rounds += 1
                if marker_rounds >= 2:
                    stats.ended_by = "end_marker"
            elif idle >= profile.idle_rounds:
                stats.ended_by = f"no_new_items_for_{idle}_rounds"
            elif stats.rounds >= profile.max_rounds:
                stats.ended_by = "max_rounds"
            elif stats.items >= profile.max_items:
                stats.ended_by = "max_items"
            elif elapsed >= profile.max_seconds:
                stats.ended_by = "max_seconds"
            if stats.ended_by:
                break
    finally:
        page.remove_listener("response", on_response)
        stats.seconds = time.monotonic() - started
    return stats


def _take(
    item: dict[str, Any], query: str, builder: ListingBuilder, seen: set[str], stats: QueryStats, emit: Emit
) -> None:
    item_id = str(item.get(builder.profile.item_fields["id"], ""))
    if item_id and item_id in seen:
        stats.duplicates += 1
        return
    try:
        record = builder.build(item, query, datetime.now(UTC))
    except ValueError as err:
        stats.rejected += 1
        emit({"reject": str(err), "raw": item, "query": query})
        return
    seen.add(item_id)
    stats.items += 1
    emit(record)


async def crawl(
    profile: SiteProfile, emit: Emit, progress: Callable[[QueryStats], None] | None = None
) -> list[QueryStats]:
    """Scrape every query of `profile`, one page at a time in one browser; records go to `emit`."""
    from playwright.async_api import async_playwright

    builder = ListingBuilder(profile)
    blocked = set(profile.block_resources)
    results = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 900})

            async def block(route: Any) -> None:
                await (route.abort() if route.request.resource_type in blocked else route.continue_())

            if blocked:
                await context.route("**/*", block)
            for query in profile.queries:
                page = await context.new_page()
                try:
                    stats = await _crawl_query(page, profile, query, builder, emit)
                finally:
                    await page.close()
                results.append(stats)
                if progress:
                    progress(stats)
        finally:
            await browser.close()
    return results


def run(profile: SiteProfile, emit: Emit, progress: Callable[[QueryStats], None] | None = None) -> list[QueryStats]:
    return asyncio.run(crawl(profile, emit, progress))
