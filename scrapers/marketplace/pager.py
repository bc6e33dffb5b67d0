"""Page-by-page logic of a profile's `http` section, independent of who fetches (Scrapy, tests): the next
request, the items of a page, why a crawl stopped, and whether what it found is complete.

Fields are read with maintained libraries: JMESPath (`jmespath`) for JSON, parsel (Scrapy's selectors) for
CSS/XPath; URLs are built with w3lib (Scrapy's) and `Link` headers parsed by requests' `parse_header_links`
(httpx has one too, but importing httpx costs each crawl process 0.6 s).
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import jmespath
from parsel import Selector
from requests.utils import parse_header_links
from w3lib.url import add_or_replace_parameters

from scrapers.marketplace.profile import FieldSpec, FieldValue, ItemFields, Items, SiteProfile

# Stop reasons: the crawl ran to an end the site signalled (or a cap the profile set) ...
END_REASONS = {
    "has_next_false",
    "total_reached",
    "empty_page",
    "no_next_cursor",
    "no_next_url",
    "no_next_link",
    "single_page",
    "repeated_page",
    "end_marker",
    "button_gone",
    "scroll_end",
}
CAP_REASONS = {"max_pages", "max_items", "max_rounds", "max_seconds"}
# ... or it did not: these always fail the run.
ERROR_REASONS = {"error"}


@dataclass
class QueryReport:
    """What one query's crawl did: the evidence a run's success or failure rests on."""

    query: str
    strategy: str = ""
    stop_reason: str = ""
    pages: int = 0
    items: int = 0  # distinct ids captured (listings + rejects)
    expected: int | None = None
    duplicates: int = 0
    rejected: int = 0
    rate_limited: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def problems(self, tolerance: float) -> list[str]:
        """Why this crawl is not a complete result (empty when it is)."""
        found = []
        if self.errors or self.stop_reason in ERROR_REASONS:
            found.append(f"{self.query}: stopped by errors: {'; '.join(self.errors[:3]) or self.stop_reason}")
        if not self.stop_reason:
            found.append(f"{self.query}: the crawl never recorded why it stopped")
        short = self.expected is not None and self.items < self.expected * (1 - tolerance)
        if short and self.stop_reason not in CAP_REASONS:
            found.append(
                f"{self.query}: {self.items} of {self.expected} expected items (stopped by {self.stop_reason})"
            )
        return found


@dataclass
class PageRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None = None


@dataclass
class Page:
    items: list[dict[str, Any]]  # extracted values per item: {"id": ..., "title": ..., ...}
    next: PageRequest | None
    stop_reason: str = ""  # set when this page ends the crawl
    expected: int | None = None


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _fill(value: Any, values: dict[str, Any]) -> Any:
    """Fill a template value; `None` when it names a value not known yet (the parameter is then left out)."""
    if isinstance(value, dict):
        filled = {k: _fill(v, values) for k, v in value.items()}
        return {k: v for k, v in filled.items() if v is not None}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if not isinstance(value, str):
        return value
    names = _placeholders(value)
    if any(values.get(n) is None for n in names):
        return None
    if len(names) == 1 and value == "{" + next(iter(names)) + "}":
        return values[next(iter(names))]  # keep the type: {"offset": "{offset}"} sends an int
    return value.format(**values)


class Pager:
    """One query's walk through a profile's `http` pages."""

    def __init__(self, profile: SiteProfile, query: str) -> None:
        if profile.http is None:
            raise ValueError(f"profile {profile.name!r} has no `http` section: the plain-HTTP strategy does not apply")
        self.profile, self.http, self.query = profile, profile.http, query
        self.report = QueryReport(query, strategy="scrapy")
        self.seen: set[str] = set()
        self.page_no = self.http.pagination.start
        self.offset = 0
        self.cursor: str | None = None

    def _values(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "page_size": self.http.page_size,
            "cursor": self.cursor,
            "page": self.page_no,
            "offset": self.offset,
        }

    def first_request(self) -> PageRequest:
        request = self.http.request
        values = self._values()
        url = self.profile.url(request.url, **{k: v for k, v in values.items() if v is not None})
        params = {k: v for k, v in _fill(dict(request.params), values).items()}
        if params:
            url = add_or_replace_parameters(url, {k: str(v) for k, v in params.items()})
        headers = dict(request.headers)
        body = None
        if request.body is not None:
            body = json.dumps(_fill(request.body, values)).encode()
            headers.setdefault("Content-Type", "application/json")
        return PageRequest(request.method, url, headers, body)

    def parse(self, status: int, headers: dict[str, str], text: str, url: str) -> Page:
        """The items of one answer and what comes next; an unexpected status or unreadable body is an error."""
        report, http, stop = self.report, self.http, self.http.stop
        if not 200 <= status < 300:
            if status in stop.expected_statuses:
                return Page([], None, stop_reason=f"status_{status}")
            raise PageError(f"HTTP {status} for {url}")
        report.pages += 1
        try:
            document = json.loads(text) if http.response == "json" else Selector(text=text)
        except json.JSONDecodeError as err:
            raise PageError(f"not JSON ({err}) at {url}") from err
        items = read_items(document, http.items)
        expected = _total(document, stop, http.items)
        if expected is not None:
            report.expected = expected
        new = []
        for item in items:
            # An item without an id is never a duplicate: it goes on to be rejected (quarantined) as missing_id.
            item_id = "" if item.get("id") in (None, "") else str(item["id"])
            if item_id and item_id in self.seen:
                report.duplicates += 1
                continue
            self.seen.add(item_id or f"#no-id-{len(self.seen)}")
            new.append(item)
        report.items = len(self.seen)
        reason = self._stop_reason(document, items, new)
        if reason:
            return Page(new, None, reason, expected)
        following = self._next_request(document, headers, url)
        return Page(new, following, "" if following else report.stop_reason, expected)

    def _stop_reason(self, document: Any, items: list, new: list) -> str:
        stop = self.http.stop
        if not items:
            return "empty_page"
        if not new:
            if stop.repeated_page == "error":
                raise PageError(f"page {self.report.pages} repeats items already seen (set stop.repeated_page: end)")
            return "repeated_page"
        if stop.has_next_path and jmespath.search(stop.has_next_path, _json_of(document, self.http.items)) is False:
            return "has_next_false"
        if stop.stop_at_total and self.report.expected is not None and self.report.items >= self.report.expected:
            return "total_reached"
        if self.report.pages >= stop.max_pages:
            return "max_pages"
        if self.report.items >= stop.max_items:
            return "max_items"
        return ""

    def _next_request(self, document: Any, headers: dict[str, str], url: str) -> PageRequest | None:
        kind = self.http.pagination.kind
        p = self.http.pagination
        if kind == "single":
            self.report.stop_reason = "single_page"
            return None
        if kind == "cursor":
            cursor = jmespath.search(p.cursor_path, document)
            if cursor in (None, ""):
                self.report.stop_reason = "no_next_cursor"
                return None
            self.cursor = str(cursor)
            return self.first_request()
        if kind == "page":
            self.page_no += 1
            return self.first_request()
        if kind == "offset":
            self.offset += self.http.page_size
            return self.first_request()
        if kind == "next_url":
            target = jmespath.search(p.next_url_path, document)
            reason = "no_next_url"
        elif kind == "link_header":
            header = next((v for k, v in headers.items() if k.lower() == "link"), "")
            target = next((x["url"] for x in parse_header_links(header) if x.get("rel") == "next"), None)
            reason = "no_next_link"
        else:  # next_link
            target = document.css(p.next_css).get() if p.next_css else document.xpath(p.next_xpath).get()
            reason = "no_next_link"
        if not target:
            self.report.stop_reason = reason
            return None
        request = self.first_request()
        request.url = urljoin(url, str(target).strip())
        return request


class PageError(RuntimeError):
    """A page that makes the crawl of its query fail (unexpected status, unreadable body, repeated page)."""


def _json_of(document: Any, items: Items) -> Any:
    """The JSON a page's stop rules read: the body of a JSON answer, or the first embedded script of an HTML one."""
    if not isinstance(document, Selector):
        return document
    if items.script is None:
        return None
    texts = document.css(items.script).getall()
    return json.loads(texts[0]) if texts else None


def _total(document: Any, stop: Any, items: Items) -> int | None:
    if stop.total_path:
        data = _json_of(document, items)
        value = jmespath.search(stop.total_path, data) if data is not None else None
    elif isinstance(document, Selector) and (stop.total_css or stop.total_xpath):
        value = document.css(stop.total_css).get() if stop.total_css else document.xpath(stop.total_xpath).get()
    else:
        return None
    return to_count(value)


def to_count(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PageError(f"the expected total is not a whole number: {value!r}")
    digits = "".join(c for c in str(value) if c.isdigit())
    if not digits:
        raise PageError(f"the expected total is not a whole number: {value!r}")
    return int(digits)


def read_items(document: Any, items: Items) -> list[dict[str, Any]]:
    """Each item's values ({id, title, price, ...}) from a JSON document or an HTML page."""
    if isinstance(document, Selector):
        if items.script is not None:
            found: list[Any] = []
            for text in document.css(items.script).getall():
                try:
                    data = json.loads(text)
                except json.JSONDecodeError as err:
                    raise PageError(f"embedded JSON in {items.script!r} does not parse: {err}") from err
                found += _as_list(jmespath.search(items.path, data))
            return [read_fields(x, items.fields) for x in found]
        cards = document.css(items.css) if items.css else document.xpath(items.xpath)
        return [read_fields(card, items.fields) for card in cards]
    return [read_fields(x, items.fields) for x in _as_list(jmespath.search(items.path, document))]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return [v for v in value if v is not None]
    return [value]


def read_fields(node: Any, fields: ItemFields) -> dict[str, Any]:
    """One item's values: JMESPath into a JSON object, CSS/XPath into an HTML card."""
    return {
        name: read_value(node, spec) for name in ItemFields.model_fields if (spec := getattr(fields, name)) is not None
    }


def read_value(node: Any, spec: FieldValue) -> Any:
    if isinstance(node, Selector):
        if isinstance(spec, str):
            return _strip(node.css(spec).get())
        if spec.path is not None:
            raise PageError(f"field path {spec.path!r} is JMESPath, but the item is an HTML card (use css/xpath)")
        return _strip(node.css(spec.css).get() if spec.css else node.xpath(spec.xpath).get())
    if isinstance(spec, FieldSpec) and spec.path is None:
        raise PageError("css/xpath fields need HTML items; this item is JSON (use path)")
    return jmespath.search(spec if isinstance(spec, str) else spec.path, node)


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def decimal_separator(fields: ItemFields) -> str:
    return fields.price.decimal_separator if isinstance(fields.price, FieldSpec) else "."
