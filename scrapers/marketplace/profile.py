"""A marketplace described as data: where its search pages and API are, how it paginates, when it ends.

Pointing the scrapers at another shop means writing one of these (YAML, or the same fields as Dagster
config), not code. Both strategies read it: Playwright opens `search_path` and listens for responses whose
URL contains `api_url_pattern`; Scrapy pages `api_path` directly with `cursor_param`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import yaml

from scrapers.sneakers.titles import SneakerVocabulary, parse_price

LISTING_FIELDS = (
    "listing_id",
    "title",
    "price",
    "currency",
    "image_url",
    "query",
    "brand",
    "model",
    "scraped_at",
    "source_url",
)


@dataclass
class SiteProfile:
    name: str
    base_url: str
    queries: list[str] = field(default_factory=list)
    # pages
    search_path: str = "/search?query={query}"
    card_selector: str = ".product-card"
    end_marker_selector: str = "#end-of-results"
    # the JSON API behind the page
    api_url_pattern: str = "/api/search"
    api_path: str = "/api/search"
    query_param: str = "query"
    cursor_param: str = "cursor"
    limit_param: str = "limit"
    page_size: int = 48
    items_field: str = "items"
    next_cursor_field: str = "next_cursor"
    has_next_field: str = "has_next"
    item_fields: dict[str, str] = field(
        default_factory=lambda: {"id": "id", "title": "title", "price": "price", "image_url": "image_url", "url": "url"}
    )
    default_currency: str = "USD"
    # rendered cards, for shops without a usable API (Scrapy renders the page with scrapy-playwright)
    card_fields: dict[str, str] = field(
        default_factory=lambda: {
            "id": "::attr(data-id)",
            "title": ".title::text",
            "price": ".price::text",
            "image_url": "img::attr(src)",
            "url": "::attr(href)",
        }
    )
    missing_price_texts: list[str] = field(default_factory=lambda: ["Sold out"])
    # stopping and politeness
    max_rounds: int = 5000
    max_items: int = 100_000
    max_seconds: float = 3600.0
    idle_rounds: int = 40  # rounds without a new item before giving up (no end signal seen)
    keep_cards: int = 120  # cards left in the DOM after each round: bounds browser memory on long scrolls
    block_resources: list[str] = field(default_factory=lambda: ["image", "media", "font"])
    concurrent_requests: int = 4
    vocabulary: list[dict[str, str]] | None = None  # model/brand patterns; None: the default sneaker vocabulary

    @classmethod
    def load(cls, path: str | Path, **overrides: Any) -> SiteProfile:
        raw = yaml.safe_load(Path(path).read_text()) or {}
        return cls.from_dict({**raw, **{k: v for k, v in overrides.items() if v is not None}})

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SiteProfile:
        known = {f.name for f in fields(cls)}
        if unknown := set(raw) - known:
            raise ValueError(f"unknown site profile fields {sorted(unknown)}; known: {sorted(known)}")
        return cls(**raw)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, **overrides: Any) -> SiteProfile:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def search_url(self, query: str) -> str:
        return urljoin(self.base_url, self.search_path.format(query=query))

    def api_url(self) -> str:
        return urljoin(self.base_url, self.api_path)


class ListingBuilder:
    """Turns one raw API item into the listing record both strategies emit."""

    def __init__(self, profile: SiteProfile) -> None:
        self.profile = profile
        self.vocabulary = SneakerVocabulary.from_config(profile.vocabulary)

    def build(self, item: dict[str, Any], query: str, scraped_at: datetime) -> dict[str, Any]:
        """A listing record; raises ValueError (with the reason) for an item that cannot be one."""
        f = self.profile.item_fields
        listing_id, title = item.get(f["id"]), (item.get(f["title"]) or "").strip()
        if listing_id in (None, ""):
            raise ValueError("missing_id")
        if not title:
            raise ValueError("missing_title")
        price_text = item.get(f["price"])
        if isinstance(price_text, str) and price_text.strip() in self.profile.missing_price_texts:
            price_text = ""
        price, currency = parse_price(price_text, self.profile.default_currency)
        parsed = self.vocabulary.parse(title)
        image = item.get(f["image_url"]) or ""
        return {
            "listing_id": str(listing_id),
            "title": title,
            "price": str(price) if price is not None else None,
            "currency": currency,
            "image_url": image if image.startswith("data:") else urljoin(self.profile.base_url, image),
            "query": query,
            "brand": parsed.brand,
            "model": parsed.model,
            "scraped_at": scraped_at.isoformat(),
            "source_url": urljoin(self.profile.base_url, item.get(f["url"]) or ""),
        }
