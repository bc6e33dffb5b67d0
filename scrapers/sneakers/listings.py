"""Listing records from a crawl's JSON-lines output, as Arrow tables for the Delta tables."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from scrapers.sneakers.titles import SneakerVocabulary, colourway_of

PRICE = pa.decimal128(12, 2)
LISTINGS_SCHEMA = pa.schema(
    [
        ("listing_id", pa.string()),
        ("title", pa.string()),
        ("price", PRICE),
        ("currency", pa.string()),
        ("image_url", pa.string()),
        ("query", pa.string()),
        ("brand", pa.string()),
        ("model", pa.string()),
        ("scraped_at", pa.timestamp("us", tz="UTC")),
        ("scrape_date", pa.date32()),
        ("source_url", pa.string()),
    ]
)
PRICE_HISTORY_SCHEMA = pa.schema(
    [
        ("snapshot", pa.string()),  # "<scrape_date>|<query>": the window one partition run owns
        ("scrape_date", pa.date32()),
        ("query", pa.string()),
        ("listing_id", pa.string()),
        ("price", PRICE),
        ("currency", pa.string()),
        ("model", pa.string()),
        ("brand", pa.string()),
    ]
)


def read_crawl_output(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(listings, rejects) from a crawl's JSON-lines file; a malformed line is a reject, not a crash."""
    listings, rejects = [], []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                rejects.append({"reject": f"bad_json: {err}", "raw": line, "line": number})
                continue
            (rejects if "reject" in record else listings).append({**record, "line": number})
    return listings, rejects


def dedupe(listings: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """One record per (query, listing id), keeping the first seen; returns the number dropped."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for r in listings:
        key = (r["query"], r["listing_id"])
        if key not in seen:
            seen.add(key)
            kept.append(r)
    return kept, len(listings) - len(kept)


def listings_table(listings: list[dict[str, Any]], scrape_date: date) -> pa.Table:
    rows = [
        {
            **{k: r.get(k) for k in LISTINGS_SCHEMA.names if k not in ("price", "scraped_at", "scrape_date")},
            "price": Decimal(r["price"]) if r.get("price") is not None else None,
            "scraped_at": datetime.fromisoformat(r["scraped_at"]),
            "scrape_date": scrape_date,
        }
        for r in listings
    ]
    return pa.Table.from_pylist(rows, schema=LISTINGS_SCHEMA)


def price_history_table(listings: pa.Table) -> pa.Table:
    rows = [
        {
            **{k: r[k] for k in PRICE_HISTORY_SCHEMA.names if k != "snapshot"},
            "snapshot": snapshot_key(r["scrape_date"], r["query"]),
        }
        for r in listings.to_pylist()
    ]
    return pa.Table.from_pylist(rows, schema=PRICE_HISTORY_SCHEMA)


def snapshot_key(day: date, query: str) -> str:
    return f"{day.isoformat()}|{query}"


def unparsed_titles(listings: list[dict[str, Any]]) -> Counter:
    return Counter(r["title"] for r in listings if not r.get("model"))


def trainable_listings(
    listings: list[dict[str, Any]], images: dict[str, dict[str, Any]], vocabulary: SneakerVocabulary
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Listings with a parsed model, a price and a good image (`images` by URL), one per listing id, with
    model, brand, colourway and image; and the counts of what was skipped, by reason."""
    skipped: Counter = Counter()
    rows, seen = [], set()
    for r in sorted(listings, key=lambda r: (r["query"], r["listing_id"])):
        if r["listing_id"] in seen:
            skipped["same_listing_in_two_queries"] += 1
            continue
        seen.add(r["listing_id"])
        parsed = vocabulary.parse(r["title"])
        image = images.get(r["image_url"])
        if parsed.model is None:
            skipped["unparsed_title"] += 1
        elif r["price"] is None:
            skipped["no_price"] += 1
        elif image is None:
            skipped["no_usable_image"] += 1
        else:
            rows.append(
                {
                    **r,
                    "model": parsed.model,
                    "brand": parsed.brand,
                    "colourway": colourway_of(r["title"]),
                    "image_path": image["path"],
                    "image_sha": image["content_sha256"],
                }
            )
    return rows, dict(skipped)
