"""Playwright strategy: drive real Chromium through a profile's `browser` section.

Every round does the profile's actions in order (scroll the window or a named container by a step, click a
"load more" or "next" control, wait for a selector) and then reads what the page shows:
- `capture: cards` reads every card in the DOM after each round, so a virtualised list (a few dozen cards
  in the DOM at a time) is read whole while it scrolls; cards are parsed with the same parsel selectors as
  the Scrapy strategy;
- `capture: responses` keeps the JSON answers the page fetches (exact prices, ids and the shop's own end
  signal) and reads them with the profile's `http` items and stop rules.
The crawl ends on a signal the profile names (end selector visible, the click target gone or disabled,
has_next false, the total reached, the scroll at its end with nothing new for `idle_rounds` rounds) or a
cap; the report says which, and how many items the page said to expect. Images, fonts and media are blocked
(the image asset fetches each image once later).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jmespath
from parsel import Selector

from foundation.browser import CHROMIUM
from foundation.browser import CHROMIUM_ARGS as BASE_CHROMIUM_ARGS
from scrapers.marketplace.pager import QueryReport, decimal_separator, read_fields, read_items, to_count
from scrapers.marketplace.profile import Browser, ClickAction, ListingBuilder, ScrollAction, SiteProfile, WaitAction

# Long infinite-scroll sessions outgrow a small /dev/shm.
CHROMIUM_ARGS = [*BASE_CHROMIUM_ARGS, "--disable-dev-shm-usage"]
CARDS_JS = "(selector) => Array.from(document.querySelectorAll(selector), (c) => c.outerHTML)"
PRUNE_CARDS_JS = """([selector, keep]) => {
  const cards = document.querySelectorAll(selector);
  for (let i = 0; i < cards.length - keep; i++) cards[i].remove();
}"""
# Scroll one step; returns whether the target was already at its end before the step. At the end it nudges:
# up one view and back down over two frames, so a page whose IntersectionObserver or scroll handler missed
# the last arrival at the bottom (it fired while a load was in flight) sees the bottom reached again.
SCROLL_JS = """async ([target, step]) => {
  const el = target === 'window' ? document.scrollingElement : document.querySelector(target);
  if (!el) return null;
  const view = target === 'window' ? window.innerHeight : el.clientHeight;
  const atEnd = el.scrollTop + view >= el.scrollHeight - 2;
  if (atEnd) {
    el.scrollTop = Math.max(0, el.scrollTop - view);
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    el.scrollTop = el.scrollHeight;
  } else {
    el.scrollTop = el.scrollTop + Math.max(1, Math.floor(view * step));
  }
  return atEnd;
}"""
CLICKABLE_JS = """(selector) => {
  const el = document.querySelector(selector);
  if (!el) return false;
  const style = getComputedStyle(el);
  return !(el.disabled || el.getAttribute('aria-disabled') === 'true' || el.hidden
           || style.display === 'none' || style.visibility === 'hidden');
}"""

Emit = Callable[[dict[str, Any]], None]


class _Collector:
    """Distinct items of one query, built into listing records as they appear."""

    def __init__(self, profile: SiteProfile, query: str, report: QueryReport, emit: Emit, separator: str) -> None:
        self.builder = ListingBuilder(profile)
        self.query, self.report, self.emit, self.separator = query, report, emit, separator
        self.seen: set[str] = set()

    def take(self, values: dict[str, Any], count_duplicates: bool) -> bool:
        item_id = "" if values.get("id") in (None, "") else str(values["id"])
        if not item_id:  # keyed by title: re-reading the card every round must not reject it again (missing_id)
            item_id = f"#no-id:{values.get('title')}"
        if item_id in self.seen:
            if count_duplicates:
                self.report.duplicates += 1
            return False
        self.seen.add(item_id)
        self.report.items = len(self.seen)
        try:
            record = self.builder.build(values, self.query, datetime.now(UTC), self.separator)
        except ValueError as err:
            self.report.rejected += 1
            self.emit({"reject": str(err), "raw": {k: str(v) for k, v in values.items()}, "query": self.query})
            return True
        self.emit(record)
        return True


async def _do_actions(page: Any, browser: Browser, report: QueryReport) -> tuple[bool, bool]:
    """Run one round of actions; returns (every scroll target was at its end, every click target was gone)."""
    at_end, clicks_gone, clicked_any = True, True, False
    for action in browser.actions:
        if isinstance(action, ScrollAction):
            result = await page.evaluate(SCROLL_JS, [action.scroll, action.step])
            if result is None:
                raise RuntimeError(f"scroll target {action.scroll!r} is not on the page")
            at_end = at_end and bool(result)
        elif isinstance(action, ClickAction):
            if not await page.evaluate(CLICKABLE_JS, action.click):
                continue
            clicks_gone, clicked_any = False, True
            if action.wait_for_response:
                async with page.expect_response(lambda r, part=action.wait_for_response: part in r.url) as answer:
                    await page.click(action.click)
                response = await answer.value
                if response.status == 429:
                    report.rate_limited += 1
                elif not response.ok:
                    raise RuntimeError(f"HTTP {response.status} for {response.url}")
            elif action.navigates:
                async with page.expect_navigation():
                    await page.click(action.click)
            else:
                await page.click(action.click)
        elif isinstance(action, WaitAction):
            await page.wait_for_selector(action.wait_for, timeout=action.timeout_ms)
    if not any(isinstance(a, ClickAction) for a in browser.actions):
        clicks_gone = False
    return at_end, clicks_gone and not clicked_any


async def _expected_from_page(page: Any, browser: Browser) -> int | None:
    if not browser.total_selector:
        return None
    return to_count(Selector(text=await page.content()).css(browser.total_selector).get())


async def _crawl_cards(page: Any, profile: SiteProfile, query: str, emit: Emit) -> QueryReport:
    browser = profile.browser
    assert browser is not None and browser.cards and browser.fields
    report = QueryReport(query, strategy="playwright")
    collector = _Collector(profile, query, report, emit, decimal_separator(browser.fields))
    failed: list[str] = []

    def on_response(response: Any) -> None:
        if response.status == 429:
            report.rate_limited += 1
        elif response.status >= 400 and response.request.resource_type in ("document", "fetch", "xhr"):
            failed.append(f"HTTP {response.status} for {response.url}")

    page.on("response", on_response)
    started = time.monotonic()
    answer = await page.goto(profile.url(browser.url, query=query), wait_until="domcontentloaded")
    if answer is not None and not answer.ok:
        report.errors.append(f"HTTP {answer.status} for {answer.url}")
        report.stop_reason = "error"
        return report
    idle = 0
    try:
        while True:
            report.pages += 1  # rounds
            if report.expected is None:
                report.expected = await _expected_from_page(page, browser)
            new = 0
            for html in await page.evaluate(CARDS_JS, browser.cards):
                values = read_fields(Selector(text=html).css("body > *")[0], browser.fields)
                new += collector.take(values, count_duplicates=False)
            if failed:
                report.errors += failed
                report.stop_reason = "error"
                break
            if report.expected is not None and report.items >= report.expected:
                report.stop_reason = "total_reached"
                break
            if browser.end_selector and await page.is_visible(browser.end_selector) and new == 0 and idle >= 1:
                report.stop_reason = "end_marker"  # seen twice with nothing new in between: the last cards are in
                break
            if report.items >= browser.max_items:
                report.stop_reason = "max_items"
                break
            if report.pages >= browser.max_rounds:
                report.stop_reason = "max_rounds"
                break
            if time.monotonic() - started >= browser.max_seconds:
                report.stop_reason = "max_seconds"
                break
            at_end, clicks_gone = await _do_actions(page, browser, report)
            idle = 0 if new else idle + 1
            if clicks_gone and new == 0:
                report.stop_reason = "button_gone"
                break
            if at_end and idle >= browser.idle_rounds:
                report.stop_reason = "scroll_end"
                break
            await page.wait_for_timeout(browser.settle_ms)
    except Exception as err:  # noqa: BLE001 - any browser failure is this query's error, with its evidence
        report.errors.append(f"{type(err).__name__}: {err}")
        report.stop_reason = "error"
    finally:
        page.remove_listener("response", on_response)
        report.seconds = round(time.monotonic() - started, 3)
    return report


async def _crawl_responses(page: Any, profile: SiteProfile, query: str, emit: Emit) -> QueryReport:
    browser, http = profile.browser, profile.http
    assert browser is not None and browser.response_url and http is not None
    report = QueryReport(query, strategy="playwright")
    collector = _Collector(profile, query, report, emit, decimal_separator(http.items.fields))
    payloads: asyncio.Queue[Any] = asyncio.Queue()
    reading = [0]  # bodies still being read: the page may show its end before we have its last answer
    failed: list[str] = []

    async def on_response(response: Any) -> None:
        if browser.response_url not in response.url:
            return
        if response.status == 429:
            report.rate_limited += 1  # the page itself waits Retry-After and asks again
            return
        if not response.ok:
            failed.append(f"HTTP {response.status} for {response.url}")
            return
        reading[0] += 1
        try:
            await payloads.put(await response.json())
        except Exception:  # noqa: BLE001 - a navigation can cut a body short; the page asks again
            pass
        finally:
            reading[0] -= 1

    page.on("response", on_response)
    started = time.monotonic()
    await page.goto(profile.url(browser.url, query=query), wait_until="domcontentloaded")
    idle, marker_rounds = 0, 0
    try:
        while not report.stop_reason:
            report.pages += 1
            before = report.items
            at_end, _ = await _do_actions(page, browser, report)
            try:
                batch = [await asyncio.wait_for(payloads.get(), timeout=0.5)]
                while not payloads.empty():
                    batch.append(payloads.get_nowait())
            except TimeoutError:
                batch = []
            has_next = True
            for payload in batch:
                for values in read_items(payload, http.items):
                    collector.take(values, count_duplicates=True)
                if http.stop.total_path:
                    report.expected = to_count(jmespath.search(http.stop.total_path, payload))
                if http.stop.has_next_path and jmespath.search(http.stop.has_next_path, payload) is False:
                    has_next = False
            if browser.keep_cards and browser.cards and report.pages % 5 == 0:
                await page.evaluate(PRUNE_CARDS_JS, [browser.cards, browser.keep_cards])
            idle = 0 if report.items > before else idle + 1
            if failed:
                report.errors += failed
                report.stop_reason = "error"
            elif not has_next:
                report.stop_reason = "has_next_false"
            elif report.expected is not None and http.stop.stop_at_total and report.items >= report.expected:
                report.stop_reason = "total_reached"
            elif not batch and not reading[0] and browser.end_selector and await page.is_visible(browser.end_selector):
                # Response events reach Python after the page has rendered them: trust the marker only
                # when a further round brought no answer either.
                marker_rounds += 1
                if marker_rounds >= 2:
                    report.stop_reason = "end_marker"
            elif at_end and idle >= browser.idle_rounds:
                report.stop_reason = "scroll_end"
            elif report.pages >= browser.max_rounds:
                report.stop_reason = "max_rounds"
            elif report.items >= browser.max_items:
                report.stop_reason = "max_items"
            elif time.monotonic() - started >= browser.max_seconds:
                report.stop_reason = "max_seconds"
    except Exception as err:  # noqa: BLE001 - any browser failure is this query's error, with its evidence
        report.errors.append(f"{type(err).__name__}: {err}")
        report.stop_reason = "error"
    finally:
        page.remove_listener("response", on_response)
        report.seconds = round(time.monotonic() - started, 3)
    return report


async def crawl_in(
    browser: Any, profile: SiteProfile, emit: Emit, progress: Callable[[QueryReport], None] | None = None
) -> list[QueryReport]:
    """Scrape every query of `profile` in an already launched Playwright browser (tests share one)."""
    section = profile.browser
    if section is None:
        raise ValueError(f"profile {profile.name!r} has no `browser` section: the Playwright strategy does not apply")
    blocked = set(section.block_resources)
    by_capture = _crawl_cards if section.capture == "cards" else _crawl_responses
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    results = []
    try:

        async def block(route: Any) -> None:
            await (route.abort() if route.request.resource_type in blocked else route.continue_())

        if blocked:
            await context.route("**/*", block)
        for query in profile.queries:
            page = await context.new_page()
            try:
                report = await by_capture(page, profile, query, emit)
            finally:
                await page.close()
            results.append(report)
            if progress:
                progress(report)
    finally:
        await context.close()
    return results


async def crawl(
    profile: SiteProfile, emit: Emit, progress: Callable[[QueryReport], None] | None = None
) -> list[QueryReport]:
    """Scrape every query of `profile`, one page at a time in one browser; records go to `emit`."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            return await crawl_in(browser, profile, emit, progress)
        finally:
            await browser.close()


def run(profile: SiteProfile, emit: Emit, progress: Callable[[QueryReport], None] | None = None) -> list[QueryReport]:
    return asyncio.run(crawl(profile, emit, progress))
