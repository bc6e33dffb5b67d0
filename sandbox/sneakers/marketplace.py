"""A local infinite-scroll sneaker marketplace on 127.0.0.1 (the stand-in for GOAT-like shops).

  /search?query=<model>     HTML page; JavaScript renders product cards from the JSON API while you scroll
  /api/search?query=&cursor=&limit=   {"items": [...], "next_cursor": "...", "has_next": bool}
  /images/<listing id>      the product image (awkward modes, a few broken ones)
  /product/<listing id>     a product page (the listing's source URL)
  /robots.txt               disallows /checkout/ and /api/internal/

Misbehaviour a scraper must survive is configurable: every Nth API request answers 429 with a
Retry-After header, every Mth answers slowly, some cards repeat across pages. Everything is deterministic
from the catalogue seed. Run it standalone with `python -m sandbox.sneakers.marketplace --port 8000`; its site profile is `PROFILE`.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import html
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from sandbox.http_server import BackgroundHTTPServer
from sandbox.sneakers.catalogue import MODELS, CatalogueConfig, Listing, generate
from sandbox.sneakers.images import form_for, render

REAL_GOAT_CSV = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "sneakers" / "goat_listings_products_updated.csv"
)
# This shop's site profile: what the scrapers are given to crawl it (with `base_url` set to the server's).
PROFILE = Path(__file__).with_name("marketplace_profile.yaml")

ROBOTS_TXT = "User-agent: *\nDisallow: /checkout/\nDisallow: /api/internal/\nAllow: /\n"


@dataclass
class MarketplaceConfig:
    catalogue: CatalogueConfig = field(default_factory=CatalogueConfig)
    page_size: int = 24
    max_page_size: int = 60
    duplicate_share: float = 0.15  # share of API pages that repeat the previous page's last card
    rate_limit_every: int = 0  # every Nth API request gets 429 (0: never)
    retry_after_s: int = 1
    slow_every: int = 0  # every Mth API request takes slow_s longer (0: never)
    slow_s: float = 0.5
    broken_image_share: float = 0.03


@dataclass
class ServerStats:
    api_requests: int = 0
    rate_limited: int = 0
    slow: int = 0
    image_requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    padded = cursor + "=" * (-len(cursor) % 4)
    return int(base64.urlsafe_b64decode(padded).decode().split(":", 1)[1])


class Marketplace:
    """The shop's data and behaviour, independent of the HTTP plumbing."""

    def __init__(self, config: MarketplaceConfig | None = None) -> None:
        self.config = config or MarketplaceConfig()
        self.catalogue = generate(self.config.catalogue)
        self.by_id: dict[str, Listing] = {x.id: x for items in self.catalogue.values() for x in items}
        self.model_index = {q: i for i, q in enumerate(MODELS)}
        self.stats = ServerStats()

    def api_page(self, query: str, cursor: str | None, limit: int) -> dict[str, Any]:
        items = self.catalogue.get(query, [])
        offset, limit = _offset(cursor), max(1, min(limit, self.config.max_page_size))
        page = items[offset : offset + limit]
        digest = int(hashlib.sha256(f"{query}:{offset}".encode()).hexdigest(), 16)
        if offset and page and (digest % 1000) / 1000 < self.config.duplicate_share:
            page = [items[offset - 1], *page]  # the shop re-sends a card the scraper has seen
        has_next = offset + limit < len(items)
        return {
            "query": query,
            "items": [self.card(x) for x in page],
            "next_cursor": _cursor(offset + limit) if has_next else None,
            "has_next": has_next,
            "total": len(items),
        }

    @staticmethod
    def card(listing: Listing) -> dict[str, Any]:
        return {
            "id": listing.id,
            "title": listing.title,
            "price": listing.price,
            "image_url": listing.image,
            "url": f"/product/{listing.id}",
        }

    def expected_ids(self, queries: list[str] | None = None) -> set[str]:
        return {x.id for q in (queries or list(self.catalogue)) for x in self.catalogue.get(q, [])}

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - the shop lives as long as its cache
    def image(self, listing_id: str) -> tuple[bytes, str]:
        listing = self.by_id[listing_id]
        brand = MODELS[listing.query][0]
        form = form_for(listing_id, self.config.catalogue.seed, self.config.broken_image_share)
        return render(
            listing_id,
            self.config.catalogue.seed,
            self.model_index[listing.query],
            brand,
            listing.colourway,
            form,
            listing.collab,
        )

    def throttle(self) -> tuple[int, float]:
        """(429 retry-after seconds or 0, extra delay) for the next API request."""
        cfg = self.config
        with self.stats.lock:
            self.stats.api_requests += 1
            n = self.stats.api_requests
            if cfg.rate_limit_every and n % cfg.rate_limit_every == 0:
                self.stats.rate_limited += 1
                return cfg.retry_after_s, 0.0
            if cfg.slow_every and n % cfg.slow_every == 0:
                self.stats.slow += 1
                return 0, cfg.slow_s
        return 0, 0.0


SEARCH_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Search results for {title}</title>
<style>
 body {{ font-family: sans-serif; margin: 0; }}
 #grid {{ display: grid; grid-template-columns: repeat(4, 1fr); gap: 8px; padding: 8px; }}
 .product-card {{ height: 320px; border: 1px solid #ddd; }}
 .product-card img {{ width: 100%; height: 220px; object-fit: contain; }}
 #sentinel {{ height: 40px; }}
</style></head>
<body><h1>Results for {title}</h1>
<div id="grid"></div>
<div id="sentinel">Loading more...</div>
<div id="end-of-results" hidden>You've seen all results</div>
<script>
const query = {query_json}, limit = {page_size};
let cursor = null, hasNext = true, busy = false;
const grid = document.getElementById('grid'), sentinel = document.getElementById('sentinel');
function render(item) {{
  const card = document.createElement('a');
  card.className = 'product-card'; card.href = item.url; card.dataset.id = item.id;
  card.innerHTML = '<img loading="lazy" alt=""><div class="title"></div><div class="price"></div>';
  card.querySelector('img').src = item.image_url;
  card.querySelector('.title').textContent = item.title;
  card.querySelector('.price').textContent = item.price || 'Sold out';
  grid.appendChild(card);
}}
async function loadMore() {{
  if (busy || !hasNext) return;
  busy = true;
  const params = new URLSearchParams({{query, limit}});
  if (cursor) params.set('cursor', cursor);
  let res;
  try {{ res = await fetch('/api/search?' + params); }} catch (e) {{ busy = false; setTimeout(loadMore, 500); return; }}
  if (res.status === 429) {{
    const wait = Number(res.headers.get('Retry-After') || '1');
    setTimeout(() => {{ busy = false; loadMore(); }}, wait * 1000);
    return;
  }}
  if (!res.ok) {{ setTimeout(() => {{ busy = false; loadMore(); }}, 500); return; }}
  const data = await res.json();
  data.items.forEach(render);
  cursor = data.next_cursor; hasNext = data.has_next;
  busy = false;
  if (!hasNext) {{ sentinel.remove(); document.getElementById('end-of-results').hidden = false; }}
}}
new IntersectionObserver(entries => {{ if (entries.some(e => e.isIntersecting)) loadMore(); }}).observe(sentinel);
window.addEventListener('scroll', () => {{
  if (window.innerHeight + window.scrollY >= document.body.scrollHeight - 600) loadMore();
}});
</script></body></html>
"""


class _Handler(BaseHTTPRequestHandler):
    shop: Marketplace
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet: tests and benchmarks would drown in access logs
        pass

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        url = urlparse(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        shop = self.shop
        if url.path == "/robots.txt":
            return self._send(200, ROBOTS_TXT.encode(), "text/plain")
        if url.path == "/search":
            query = params.get("query", "")
            page = SEARCH_PAGE.format(
                title=html.escape(query), query_json=json.dumps(query), page_size=shop.config.page_size
            )
            return self._send(200, page.encode(), "text/html; charset=utf-8")
        if url.path == "/api/search":
            retry_after, delay = shop.throttle()
            if retry_after:
                return self._send(
                    429, b'{"error": "too many requests"}', "application/json", {"Retry-After": str(retry_after)}
                )
            if delay:
                time.sleep(delay)
            limit = int(params.get("limit", shop.config.page_size))
            body = json.dumps(shop.api_page(params.get("query", ""), params.get("cursor"), limit)).encode()
            return self._send(200, body, "application/json")
        if url.path.startswith("/images/"):
            listing_id = url.path.rsplit("/", 1)[-1]
            if listing_id not in shop.by_id:
                return self._send(404, b"not found", "text/plain")
            with shop.stats.lock:
                shop.stats.image_requests += 1
            body, content_type = shop.image(listing_id)
            return self._send(200, body, content_type, {"Cache-Control": "max-age=86400"})
        if url.path.startswith("/product/"):
            listing = shop.by_id.get(url.path.rsplit("/", 1)[-1])
            if listing is None:
                return self._send(404, b"not found", "text/plain")
            page = (
                f"<html><body><h1>{html.escape(listing.title)}</h1><p class='price'>{listing.price}</p></body></html>"
            )
            return self._send(200, page.encode(), "text/html; charset=utf-8")
        self._send(404, b"not found", "text/plain")


class MarketplaceServer(BackgroundHTTPServer):
    """Serve a `Marketplace` on 127.0.0.1 (port 0 picks a free port) in a background thread."""

    def __init__(self, config: MarketplaceConfig | None = None, port: int = 0) -> None:
        self.shop = Marketplace(config)
        super().__init__(type("Handler", (_Handler,), {"shop": self.shop}), port, "marketplace")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--listings-per-query", type=int, default=120)
    parser.add_argument("--rate-limit-every", type=int, default=0)
    parser.add_argument("--slow-every", type=int, default=0)
    parser.add_argument("--real-titles", action="store_true", help=f"serve titles and prices from {REAL_GOAT_CSV}")
    args = parser.parse_args()
    catalogue = CatalogueConfig(
        seed=args.seed,
        listings_per_query=args.listings_per_query,
        real_titles=REAL_GOAT_CSV if args.real_titles and REAL_GOAT_CSV.exists() else None,
    )
    config = MarketplaceConfig(catalogue=catalogue, rate_limit_every=args.rate_limit_every, slow_every=args.slow_every)
    with MarketplaceServer(config, args.port) as server:
        print(f"marketplace on {server.base_url}/search?query=air-jordan-1", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
