"""The shop test kit: one local server on 127.0.0.1 serving several small shops, each paginating the way real
shops do, each with a site profile in `profiles/<shop>.yaml` (base_url left to the test).

| shop       | lists its products as                                                            | prices         |
|------------|----------------------------------------------------------------------------------|----------------|
| `cursor`   | GraphQL-style JSON API (edges/node, pageInfo.endCursor/hasNextPage, totalCount); | numbers, nested|
|            | the search page scrolls the window and fetches it                                |                |
| `pages`    | page-number JSON API (`page`, `per_page`, `total`, `links.next`); the search page | "$1,234.00"    |
|            | scrolls an inner `div`, not the window                                           |                |
| `loadmore` | POST `{"query", "offset", "limit"}` JSON API (GET answers 405); a "Load more"    | "1,234.00 USD" |
|            | button that disappears at the end                                                |                |
| `html`     | server-rendered pages with `<a rel="next">` links and a `Link` header             | "1.234,00 €"   |
| `virtual`  | one page, the whole list in `__NEXT_DATA__`, shown as a virtualised list          | numbers        |
|            | (about 20 rows in the DOM at a time)                                             |                |
| `ldjson`   | server-rendered pages carrying a schema.org ItemList in ld+json, `<link rel=next>`| "714.00"       |

Faults for completeness tests: `Faults(error_on_page=5)` answers HTTP 500 for that page (of any query),
`Faults(empty_from_page=3)` answers empty pages from there on while still announcing the full total.
Everything is deterministic from the seed. Standalone: `python -m sandbox.shops.server --port 8100`.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from sandbox.http_server import BackgroundHTTPServer
from sandbox.sneakers.catalogue import MODELS, CatalogueConfig, Listing, generate
from sandbox.sneakers.images import form_for, render

PROFILES_DIR = Path(__file__).with_name("profiles")
SHOPS = ("cursor", "pages", "loadmore", "html", "virtual", "ldjson")
# The kit's search queries (its own names: not the sneaker marketplace's) and the model each one lists.
QUERIES = {"jordans": "air-jordan-1", "dunks": "nike-dunk-low"}
PAGE_SIZE = 10  # what the browser pages ask for; profiles say their own


def profile_path(shop: str) -> Path:
    return PROFILES_DIR / f"{shop}.yaml"


@dataclass(frozen=True)
class Product:
    id: str
    title: str
    price: Decimal | None
    image: str
    url: str


@dataclass
class Faults:
    error_on_page: int | None = None  # 1-based page that answers HTTP 500
    empty_from_page: int | None = None  # 1-based page from which answers are empty (the total stays)


@dataclass
class KitConfig:
    seed: int = 5
    per_query: int = 45
    faults: dict[str, Faults] = field(default_factory=dict)  # shop -> faults


def build_catalogue(config: KitConfig, shop: str) -> dict[str, list[Product]]:
    generated = generate(
        CatalogueConfig(seed=config.seed, listings_per_query=config.per_query, queries=list(QUERIES.values()))
    )
    catalogue = {}
    for query, model in QUERIES.items():
        catalogue[query] = [
            Product(
                id=f"{shop}-{x.id}",
                title=x.title,
                price=Decimal(x.price.strip("$").replace(",", "")).quantize(Decimal("0.01")) if x.price else None,
                image=f"/{shop}/img/{x.id}.jpg",
                url=f"/{shop}/p/{x.id}",
            )
            for x in generated[model]
        ]
    return catalogue


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"after:{offset}".encode()).decode()


def _decode_cursor(cursor: str | None) -> int:
    return int(base64.urlsafe_b64decode(cursor.encode()).decode().split(":")[1]) if cursor else 0


class ShopKit:
    """The shops' data and answers, independent of the HTTP plumbing."""

    def __init__(self, config: KitConfig | None = None) -> None:
        self.config = config or KitConfig()
        self.catalogues = {shop: build_catalogue(self.config, shop) for shop in SHOPS}
        # the same generation as the catalogues': image ids are the generated listings' ids
        generated = generate(
            CatalogueConfig(
                seed=self.config.seed, listings_per_query=self.config.per_query, queries=list(QUERIES.values())
            )
        )
        self.listings: dict[str, Listing] = {x.id: x for items in generated.values() for x in items}
        self.requests: dict[str, int] = {shop: 0 for shop in SHOPS}
        self.lock = threading.Lock()

    def expected(self, shop: str, queries: list[str] | None = None) -> dict[str, Product]:
        return {p.id: p for q in (queries or list(QUERIES)) for p in self.catalogues[shop][q]}

    def window(self, shop: str, query: str, offset: int, limit: int) -> tuple[list[Product], int, bool]:
        """(products, total, fault 500) of one page; faults count pages from 1 by offset."""
        products = self.catalogues[shop].get(query, [])
        page_no = offset // max(limit, 1) + 1
        faults = self.config.faults.get(shop, Faults())
        if faults.error_on_page == page_no:
            return [], len(products), True
        if faults.empty_from_page and page_no >= faults.empty_from_page:
            return [], len(products), False
        return products[offset : offset + limit], len(products), False


def _money(value: Decimal | None, style: str) -> Any:
    if value is None:
        return None if style in ("number", "schema") else ""
    if style == "number":
        return float(value)
    if style == "dollars":
        return f"${value:,.2f}"
    if style == "code":
        return f"{value:,.2f} USD"
    if style == "euro":  # 1.234,00 €
        return f"{value:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".") + " €"
    return f"{value:.2f}"  # schema.org: a plain decimal string


PAGE_HEAD = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>{head}
<style>body {{ font-family: sans-serif; margin: 0; }} .card, .tile, .product {{ display: block; height: 120px; border: 1px solid #ccc; }}</style>
</head><body>"""

CURSOR_PAGE = """<h1>Results</h1><div id="grid"></div><div id="sentinel" style="height:40px">Loading…</div>
<div id="end" hidden>That's everything</div>
<script>
const q = {query}; let after = null, more = true, busy = false;
async function load() {{
  if (busy || !more) return; busy = true;
  const params = new URLSearchParams({{q, first: {size}}}); if (after) params.set('after', after);
  const res = await fetch('/cursor/api/products?' + params);
  if (!res.ok) {{ busy = false; return; }}
  const s = (await res.json()).data.search;
  for (const {{node}} of s.edges) {{
    const a = document.createElement('a'); a.className = 'card'; a.href = node.path; a.dataset.sku = node.sku;
    a.innerHTML = '<b class="name"></b> <i class="amount"></i>';
    a.querySelector('.name').textContent = node.name;
    a.querySelector('.amount').textContent = node.price ? node.price.amount : '';
    document.getElementById('grid').appendChild(a);
  }}
  after = s.pageInfo.endCursor; more = s.pageInfo.hasNextPage; busy = false;
  if (!more) {{ document.getElementById('sentinel').remove(); document.getElementById('end').hidden = false; }}
  else if (document.getElementById('sentinel').getBoundingClientRect().top < innerHeight) load();
}}
new IntersectionObserver((seen) => {{ if (seen.some((e) => e.isIntersecting)) load(); }})
  .observe(document.getElementById('sentinel'));
</script></body></html>"""

PAGES_PAGE = """<h1>Results</h1><p id="count" data-total="{total}">{total} results</p>
<div id="results" style="height:500px; overflow-y:auto; border:1px solid #000"><div id="list"></div>
<div id="more" style="height:30px">Loading…</div></div>
<script>
const q = {query}; let page = 1, more = true, busy = false;
const box = document.getElementById('results');
async function load() {{
  if (busy || !more) return; busy = true;
  const res = await fetch('/pages/api/search?' + new URLSearchParams({{q, page, per_page: {size}}}));
  if (!res.ok) {{ busy = false; return; }}
  const data = await res.json();
  for (const it of data.items) {{
    const d = document.createElement('div'); d.className = 'card'; d.dataset.id = it.id;
    d.innerHTML = '<a class="t"></a><span class="p"></span><img>';
    d.querySelector('.t').textContent = it.title; d.querySelector('.t').href = it.url;
    d.querySelector('.p').textContent = it.price; d.querySelector('img').src = it.image;
    document.getElementById('list').appendChild(d);
  }}
  page += 1; more = data.items.length > 0 && data.links.next !== null; busy = false;
  if (!more) document.getElementById('more').remove();
}}
box.addEventListener('scroll', () => {{ if (box.scrollTop + box.clientHeight >= box.scrollHeight - 100) load(); }});
load();
</script></body></html>"""

LOADMORE_PAGE = """<h1>Results</h1><p id="count">{total} products</p><div id="grid"></div>
<button id="load-more">Load more</button>
<script>
const q = {query}; let offset = 0;
const button = document.getElementById('load-more');
async function load() {{
  const res = await fetch('/loadmore/api/products', {{method: 'POST', headers: {{'Content-Type': 'application/json'}},
    body: JSON.stringify({{query: q, offset, limit: {size}}})}});
  if (!res.ok) return;
  const data = await res.json();
  for (const p of data.products) {{
    const t = document.createElement('article'); t.className = 'tile'; t.setAttribute('data-product-id', p.product_id);
    t.innerHTML = '<h3></h3><span class="price"></span><a class="link">view</a><img>';
    t.querySelector('h3').textContent = p.label; t.querySelector('.price').textContent = p.price;
    t.querySelector('img').src = p.picture.url;
    t.querySelector('.link').href = p.href;
    document.getElementById('grid').appendChild(t);
  }}
  offset += {size};
  if (offset >= data.total || data.products.length === 0) button.remove();
}}
button.addEventListener('click', load);
load();
</script></body></html>"""

VIRTUAL_PAGE = """<h1>Results</h1><p id="count" data-total="{total}">{total}</p>
<script id="__NEXT_DATA__" type="application/json">{data}</script>
<div id="viewport" style="height:480px; overflow-y:auto; position:relative">
  <div id="spacer" style="position:relative"></div></div>
<script>
const products = JSON.parse(document.getElementById('__NEXT_DATA__').textContent).props.pageProps.results.products;
const ROW = 48, vp = document.getElementById('viewport'), spacer = document.getElementById('spacer');
spacer.style.height = (products.length * ROW) + 'px';
function draw() {{
  const first = Math.max(0, Math.floor(vp.scrollTop / ROW) - 5);
  const last = Math.min(products.length, Math.ceil((vp.scrollTop + vp.clientHeight) / ROW) + 5);
  spacer.innerHTML = '';
  for (let i = first; i < last; i++) {{
    const p = products[i], row = document.createElement('div');
    row.className = 'row'; row.dataset.id = p.id; row.style.cssText = `position:absolute; top:${{i * ROW}}px; height:${{ROW}}px`;
    row.innerHTML = '<span class="title"></span> <span class="price"></span> <a class="go">go</a>';
    row.querySelector('.title').textContent = p.title;
    row.querySelector('.price').textContent = p.price === null ? '' : '$' + p.price.toFixed(2);
    row.querySelector('.go').href = p.url;
    spacer.appendChild(row);
  }}
}}
vp.addEventListener('scroll', draw); draw();
</script></body></html>"""


class _Handler(BaseHTTPRequestHandler):
    kit: ShopKit
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet: tests would drown in access logs
        pass

    def _send(self, status: int, body: bytes | str, content_type: str, headers: dict[str, str] | None = None) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _json(self, payload: Any, status: int = 200) -> None:
        self._send(status, json.dumps(payload), "application/json")

    def _page(self, title: str, body: str, head: str = "", headers: dict[str, str] | None = None) -> None:
        page = PAGE_HEAD.format(title=html.escape(title), head=head) + body
        self._send(200, page, "text/html; charset=utf-8", headers)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        url = urlparse(self.path)
        if url.path != "/loadmore/api/products":
            return self._send(405, "method not allowed", "text/plain", {"Allow": "GET"})
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            return self._json({"error": "body is not JSON"}, 400)
        offset, limit = body.get("offset"), body.get("limit")
        if not isinstance(offset, int) or not isinstance(limit, int):  # a real API is strict about types
            return self._json({"error": "offset and limit must be integers"}, 400)
        products, total, fault = self.kit.window("loadmore", body.get("query", ""), offset, limit)
        if fault:
            return self._json({"error": "internal"}, 500)
        self._json(
            {
                "total": total,
                "products": [
                    {
                        "product_id": p.id,
                        "label": p.title,
                        "price": _money(p.price, "code"),
                        "href": p.url,
                        "picture": {"url": p.image},
                    }
                    for p in products
                ],
            }
        )

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        url = urlparse(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        shop, _, rest = url.path.lstrip("/").partition("/")
        if url.path == "/robots.txt":
            return self._send(200, "User-agent: *\nAllow: /\n", "text/plain")
        if shop not in SHOPS:
            return self._send(404, "no such shop", "text/plain")
        with self.kit.lock:
            self.kit.requests[shop] += 1
        if rest.startswith("img/"):  # the sandbox marketplace's generated sneaker images (no broken ones)
            listing = self.kit.listings.get(rest[4:].removesuffix(".jpg"))
            if listing is None:
                return self._send(404, "no such image", "text/plain")
            form = form_for(listing.id, self.kit.config.seed, 0.0)
            brand = MODELS[listing.query][0]
            index = list(MODELS).index(listing.query)
            body, content_type = render(
                listing.id, self.kit.config.seed, index, brand, listing.colourway, form, listing.collab
            )
            return self._send(200, body, content_type)
        if rest.startswith("p/"):
            return self._send(200, "<h1>product</h1>", "text/html")
        if shop == "loadmore" and rest == "api/products":
            return self._send(405, "use POST", "text/plain", {"Allow": "POST"})
        query = params.get("q", "")
        handler = getattr(self, f"_{shop}_{rest.replace('/', '_')}", None)
        if handler is None:
            return self._send(404, "not found", "text/plain")
        handler(query, params)

    # cursor ---------------------------------------------------------------------------------------------
    def _cursor_search(self, query: str, params: dict[str, str]) -> None:
        self._page("Search", CURSOR_PAGE.format(query=json.dumps(query), size=PAGE_SIZE))

    def _cursor_api_products(self, query: str, params: dict[str, str]) -> None:
        offset, first = _decode_cursor(params.get("after")), int(params.get("first", PAGE_SIZE))
        products, total, fault = self.kit.window("cursor", query, offset, first)
        if fault:
            return self._json({"errors": [{"message": "internal"}]}, 500)
        end = offset + len(products)
        edges = [
            {
                "node": {
                    "sku": p.id,
                    "name": p.title,
                    "price": {"amount": _money(p.price, "number"), "currency": "USD"} if p.price else None,
                    "images": [{"src": p.image}],
                    "path": p.url,
                }
            }
            for p in products
        ]
        info = {"endCursor": _encode_cursor(end), "hasNextPage": end < total}
        self._json({"data": {"search": {"totalCount": total, "edges": edges, "pageInfo": info}}})

    # pages ----------------------------------------------------------------------------------------------
    def _pages_search(self, query: str, params: dict[str, str]) -> None:
        total = len(self.kit.catalogues["pages"].get(query, []))
        self._page("Search", PAGES_PAGE.format(query=json.dumps(query), size=PAGE_SIZE, total=total))

    def _pages_api_search(self, query: str, params: dict[str, str]) -> None:
        page, per_page = int(params.get("page", 1)), int(params.get("per_page", PAGE_SIZE))
        products, total, fault = self.kit.window("pages", query, (page - 1) * per_page, per_page)
        if fault:
            return self._json({"error": "internal"}, 500)
        has_next = page * per_page < total
        following = f"/pages/api/search?{urlencode({'q': query, 'page': page + 1, 'per_page': per_page})}"
        self._json(
            {
                "page": page,
                "total": total,
                "items": [
                    {"id": p.id, "title": p.title, "price": _money(p.price, "dollars"), "image": p.image, "url": p.url}
                    for p in products
                ],
                "links": {"next": following if has_next else None},
            }
        )

    # loadmore -------------------------------------------------------------------------------------------
    def _loadmore_search(self, query: str, params: dict[str, str]) -> None:
        total = len(self.kit.catalogues["loadmore"].get(query, []))
        self._page("Search", LOADMORE_PAGE.format(query=json.dumps(query), size=PAGE_SIZE, total=total))

    # html -----------------------------------------------------------------------------------------------
    def _html_search(self, query: str, params: dict[str, str]) -> None:
        page = int(params.get("page", 1))
        products, total, fault = self.kit.window("html", query, (page - 1) * PAGE_SIZE, PAGE_SIZE)
        if fault:
            return self._send(500, "<h1>Internal error</h1>", "text/html")
        cards = "".join(
            f'<li class="product" data-sku="{p.id}"><a href="{p.url}"><h2 class="name">{html.escape(p.title)}</h2>'
            f'<span class="price">{_money(p.price, "euro")}</span><img src="{p.image}" alt=""></a></li>'
            for p in products
        )
        headers, nav = {}, ""
        if page * PAGE_SIZE < total:
            following = f"/html/search?{urlencode({'q': query, 'page': page + 1})}"
            headers["Link"] = f'<{following}>; rel="next"'
            nav = f'<nav><a rel="next" href="{html.escape(following)}">Next page</a></nav>'
        body = f'<p id="summary" data-total="{total}">{total} results</p><ul id="grid">{cards}</ul>{nav}</body></html>'
        self._page(f"Page {page}", body, headers=headers)

    # virtual --------------------------------------------------------------------------------------------
    def _virtual_search(self, query: str, params: dict[str, str]) -> None:
        products = self.kit.catalogues["virtual"].get(query, [])
        data = {
            "props": {
                "pageProps": {
                    "results": {
                        "total": len(products),
                        "products": [
                            {"id": p.id, "title": p.title, "price": _money(p.price, "number"), "url": p.url}
                            for p in products
                        ],
                    }
                }
            }
        }
        text = json.dumps(data).replace("</", "<\\/")
        self._page("Search", VIRTUAL_PAGE.format(total=len(products), data=text))

    # ldjson ---------------------------------------------------------------------------------------------
    def _ldjson_search(self, query: str, params: dict[str, str]) -> None:
        page = int(params.get("page", 1))
        products, total, fault = self.kit.window("ldjson", query, (page - 1) * PAGE_SIZE, PAGE_SIZE)
        if fault:
            return self._send(500, "<h1>Internal error</h1>", "text/html")
        item_list = {
            "@context": "https://schema.org",
            "@type": "ItemList",
            "numberOfItems": total,
            "itemListElement": [
                {
                    "@type": "ListItem",
                    "position": (page - 1) * PAGE_SIZE + i + 1,
                    "item": {
                        "@type": "Product",
                        "sku": p.id,
                        "name": p.title,
                        "image": p.image,
                        "url": p.url,
                        "offers": {"@type": "Offer", "price": _money(p.price, "schema"), "priceCurrency": "USD"},
                    },
                }
                for i, p in enumerate(products)
            ],
        }
        script = json.dumps(item_list).replace("</", "<\\/")
        head = f'<script type="application/ld+json">{script}</script>'
        if page * PAGE_SIZE < total:
            head += f'<link rel="next" href="/ldjson/search?{html.escape(urlencode({"q": query, "page": page + 1}))}">'
        self._page(f"Page {page}", "<h1>Products</h1></body></html>", head=head)


class ShopKitServer(BackgroundHTTPServer):
    """Serve a `ShopKit` on 127.0.0.1 (port 0 picks a free port) in a background thread."""

    def __init__(self, config: KitConfig | None = None, port: int = 0) -> None:
        self.kit = ShopKit(config)
        super().__init__(type("Handler", (_Handler,), {"kit": self.kit}), port, "shop-kit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args()
    with ShopKitServer(port=args.port) as server:
        for shop in SHOPS:
            print(f"{shop}: {server.base_url}/{shop}/search?q=jordans  profile {profile_path(shop)}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
