"""The shop page: browse items, add them to a cart, see 10 recommendations from the saved index.

One process serves both the page and its JSON API and holds the two-tower index in memory, so
no separate model server is needed. Bad requests get clear 4xx answers:
400 malformed JSON / not a list of integer ids / empty cart, 413 a cart or body that is too big,
422 item ids the catalogue does not know.
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

MAX_CART_ITEMS = 50
MAX_BODY_BYTES = 16 * 1024

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Storefront shop</title>
<style>
body{font-family:sans-serif;margin:1.5em;display:grid;grid-template-columns:2fr 1fr 1fr;gap:1.5em}
li{margin:.2em 0} button{margin-left:.5em} #error{color:#a00}
</style></head><body>
<section><h2>Items</h2><input id="search" placeholder="search items">
<ul id="items"></ul></section>
<section><h2>Cart</h2><ol id="cart"></ol><button id="clear">Clear cart</button></section>
<section><h2>Recommended for this cart</h2><p id="error"></p><ol id="recommendations"></ol></section>
<script>
const cart = [];
const byId = {};
function line(item) { return `${item.description} ($${item.price.toFixed(2)})`; }
async function loadItems(q) {
  const r = await fetch('/api/items?limit=60&q=' + encodeURIComponent(q || ''));
  const data = await r.json();
  const ul = document.getElementById('items'); ul.innerHTML = '';
  for (const item of data.items) {
    byId[item.item_id] = item;
    const li = document.createElement('li'); li.className = 'item'; li.dataset.itemId = item.item_id;
    li.textContent = line(item);
    const b = document.createElement('button'); b.textContent = 'Add to cart'; b.className = 'add';
    b.onclick = () => add(item); li.appendChild(b); ul.appendChild(li);
  }
}
function add(item) { byId[item.item_id] = item; cart.push(item.item_id); render(); recommend(); }
function render() {
  const ol = document.getElementById('cart'); ol.innerHTML = '';
  for (const id of cart) { const li = document.createElement('li'); li.className = 'cart-item'; li.textContent = line(byId[id]); ol.appendChild(li); }
}
async function recommend() {
  const ol = document.getElementById('recommendations'); const err = document.getElementById('error');
  ol.innerHTML = ''; err.textContent = '';
  if (!cart.length) return;
  const r = await fetch('/api/recommendations', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                  body: JSON.stringify({items: cart})});
  const data = await r.json();
  if (!r.ok) { err.textContent = data.error; return; }
  for (const item of data.recommendations) {
    byId[item.item_id] = item;
    const li = document.createElement('li'); li.className = 'recommendation'; li.dataset.itemId = item.item_id;
    li.textContent = line(item);
    const b = document.createElement('button'); b.textContent = 'Add to cart'; b.onclick = () => add(item);
    li.appendChild(b); ol.appendChild(li);
  }
}
document.getElementById('search').oninput = (e) => loadItems(e.target.value);
document.getElementById('clear').onclick = () => { cart.length = 0; render(); recommend(); };
loadItems('');
</script></body></html>
"""


class BadRequest(Exception):
    def __init__(self, status: HTTPStatus, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.details = status, message, details


def parse_cart(body: bytes, known: set[int]) -> list[int]:
    """Validate a recommendation request body: {"items": [item ids]}."""
    try:
        payload = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadRequest(HTTPStatus.BAD_REQUEST, f"body is not JSON: {error}") from None
    items = payload.get("items") if isinstance(payload, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in items):
        raise BadRequest(HTTPStatus.BAD_REQUEST, 'expected {"items": [integer item ids]}')
    if not items:
        raise BadRequest(HTTPStatus.BAD_REQUEST, "the cart is empty: add an item first")
    if len(items) > MAX_CART_ITEMS:
        raise BadRequest(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"at most {MAX_CART_ITEMS} items per cart, got {len(items)}"
        )
    unknown = sorted({i for i in items if i not in known})
    if unknown:
        raise BadRequest(HTTPStatus.UNPROCESSABLE_ENTITY, "unknown item ids", unknown_items=unknown[:20])
    return items


def make_handler(recommender: Any) -> type[BaseHTTPRequestHandler]:
    items = sorted(recommender.items.values(), key=lambda r: r["item_id"])
    known = set(recommender.items)
    lock = threading.Lock()  # one Keras call at a time; the model is small and calls are fast

    class ShopHandler(BaseHTTPRequestHandler):
        server_version = "StorefrontShop/1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json")

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/":
                self._send(HTTPStatus.OK, PAGE.encode(), "text/html; charset=utf-8")
            elif url.path == "/healthz":
                self._json(HTTPStatus.OK, {"status": "ok", "items": len(items)})
            elif url.path == "/api/items":
                query = parse_qs(url.query)
                text = (query.get("q") or [""])[0].lower()
                try:
                    limit = max(1, min(int((query.get("limit") or ["50"])[0]), 500))
                except ValueError:
                    self._json(HTTPStatus.BAD_REQUEST, {"error": "limit must be an integer"})
                    return
                found = [i for i in items if text in i["description"].lower()][:limit]
                self._json(HTTPStatus.OK, {"items": found})
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {url.path}"})

        def do_POST(self) -> None:
            if urlparse(self.path).path != "/api/recommendations":
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: {self.path}"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    raise BadRequest(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY_BYTES} bytes")
                cart = parse_cart(self.rfile.read(length), known)
            except BadRequest as error:
                self.close_connection = True
                self._json(error.status, {"error": error.message, **error.details})
                return
            with lock:
                recommendations = recommender.recommend(cart)
            self._json(HTTPStatus.OK, {"cart": cart, "recommendations": recommendations})

    return ShopHandler


def start_shop(
    model_dir: str | Path, host: str = "127.0.0.1", port: int = 0
) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Load the index and serve in a background thread; port 0 picks a free port (server.server_address)."""
    from models.retail.two_tower import Recommender

    server = ThreadingHTTPServer((host, port), make_handler(Recommender(model_dir)))
    thread = threading.Thread(target=server.serve_forever, name="retail-shop", daemon=True)
    thread.start()
    return server, thread
