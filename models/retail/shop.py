"""The shop page: browse items, add them to a cart, see 10 recommendations from the saved index.

One process serves both the page and its JSON API and holds the two-tower index in memory, so
no separate model server is needed. A FastAPI app on uvicorn (`foundation.web`: body size limit,
body read deadline, JSON errors). Bad requests get clear 4xx answers: 400 a body that is not JSON,
413 a body over `MAX_BODY_BYTES`, 422 anything the request model refuses (not an object, not a
list of integer ids, an empty cart or one over `MAX_CART_ITEMS`) and item ids the catalogue does
not know (listed in `unknown_items`).
"""

from __future__ import annotations

import html
import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from foundation.web import Server, create_app

MAX_CART_ITEMS = 50
MAX_BODY_BYTES = 16 * 1024
MAX_ITEM_ID = 2**63 - 1

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Storefront shop</title>
<style>
body{font-family:sans-serif;margin:1.5em;display:grid;grid-template-columns:2fr 1fr 1fr;gap:1.5em}
li{margin:.2em 0} button{margin-left:.5em} #error{color:#a00}
</style></head><body>
<section><h2>Items</h2><input id="search" placeholder="search items">
<ul id="items"></ul></section>
<section><h2>Cart</h2><ol id="cart"></ol><button id="clear">Clear cart</button></section>
<section><h2>Recommended for this cart</h2><p id="served-by">__SERVED_BY__</p><p id="error"></p>
<ol id="recommendations"></ol></section>
<script>
const cart = [];
const byId = {};
function line(item) { return `${item.description} ($${item.price.toFixed(2)})`; }
let itemsSeq = 0, recommendSeq = 0, inflight = null;
async function loadItems(q) {
  const seq = ++itemsSeq;
  const r = await fetch('/api/items?limit=60&q=' + encodeURIComponent((q || '').slice(0, 200)));
  const data = await r.json();
  if (seq !== itemsSeq) return;  // typed on since: a newer search is coming
  const ul = document.getElementById('items'); ul.innerHTML = '';
  for (const item of data.items || []) {
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
// The latest cart wins: each call aborts the request before it and, should an older answer still
// arrive, drops it (its sequence number is no longer the latest), so the list always shows exactly
// the answer for the cart as it is now.
async function recommend() {
  const seq = ++recommendSeq;
  if (inflight) inflight.abort();
  const controller = new AbortController(); inflight = controller;
  const ol = document.getElementById('recommendations'); const err = document.getElementById('error');
  const sentCart = cart.slice();
  if (!sentCart.length) { ol.innerHTML = ''; err.textContent = ''; ol.dataset.cart = ''; return; }
  let r, data;
  try {
    r = await fetch('/api/recommendations', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                             body: JSON.stringify({items: sentCart}), signal: controller.signal});
    data = await r.json();
  } catch (e) {
    if (seq === recommendSeq) err.textContent = String(e);
    return;
  }
  if (seq !== recommendSeq) return;  // stale: a newer cart was sent
  ol.innerHTML = ''; err.textContent = '';
  if (!r.ok) { err.textContent = data.error; return; }
  for (const item of data.recommendations) {
    byId[item.item_id] = item;
    const li = document.createElement('li'); li.className = 'recommendation'; li.dataset.itemId = item.item_id;
    li.textContent = line(item);
    const b = document.createElement('button'); b.textContent = 'Add to cart'; b.onclick = () => add(item);
    li.appendChild(b); ol.appendChild(li);
  }
  ol.dataset.cart = sentCart.join(',');
}
document.getElementById('search').oninput = (e) => loadItems(e.target.value);
document.getElementById('clear').onclick = () => { cart.length = 0; render(); recommend(); };
loadItems('');
</script></body></html>
"""


class CartBody(BaseModel):
    """`{"items": [item ids, in the order added]}`."""

    model_config = ConfigDict(extra="forbid")

    items: list[Annotated[StrictInt, Field(ge=0, le=MAX_ITEM_ID)]] = Field(min_length=1, max_length=MAX_CART_ITEMS)


class Item(BaseModel):
    model_config = ConfigDict(extra="allow")  # the catalogue's columns

    item_id: int
    description: str
    price: float


class Recommended(Item):
    score: float


class ItemsAnswer(BaseModel):
    items: list[Item]


class RecommendationsAnswer(BaseModel):
    cart: list[int]
    recommendations: list[Recommended]


def served_by(recommender: Any) -> dict[str, Any]:
    """Which model answers (the validation champion may be a baseline: the page says so)."""
    name = getattr(recommender, "model_name", "two_tower")
    baseline = bool(getattr(recommender, "is_baseline", False))
    kind = "a simple baseline, which beat the two-tower model on validation" if baseline else "the learned model"
    return {"model": name, "is_baseline": baseline, "text": f"Recommendations by {name} ({kind})."}


def create_shop_app(recommender: Any, body_timeout_s: float = 10.0) -> FastAPI:
    """The page and its API over a loaded recommender (`models.retail.serving.load_recommender`)."""
    items = sorted(recommender.items.values(), key=lambda r: r["item_id"])
    known = set(recommender.items)
    lock = threading.Lock()  # one Keras call at a time; the model is small and calls are fast
    app = create_app("Storefront shop", max_body_bytes=MAX_BODY_BYTES, body_timeout_s=body_timeout_s)

    model = served_by(recommender)
    page_html = PAGE.replace("__SERVED_BY__", html.escape(model["text"]))

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return page_html

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "items": len(items), "model": model["model"], "is_baseline": model["is_baseline"]}

    @app.get("/api/items")
    def search(
        q: Annotated[str, Query(max_length=200)] = "", limit: Annotated[int, Query(ge=1, le=500)] = 50
    ) -> ItemsAnswer:
        text = q.lower()
        return ItemsAnswer.model_validate({"items": [i for i in items if text in i["description"].lower()][:limit]})

    @app.post(
        "/api/recommendations",
        response_model=RecommendationsAnswer,
        responses={422: {"description": "the request model refused the body, or unknown item ids"}},
    )
    def recommend(body: CartBody) -> Any:  # RecommendationsAnswer, or the 422 for unknown ids
        unknown = sorted({i for i in body.items if i not in known})
        if unknown:
            return JSONResponse({"error": "unknown item ids", "unknown_items": unknown[:20]}, status_code=422)
        with lock:
            recommendations = recommender.recommend(body.items)
        return RecommendationsAnswer.model_validate({"cart": body.items, "recommendations": recommendations})

    return app


def start_shop(model_dir: str | Path, host: str = "127.0.0.1", port: int = 0) -> Server:
    """Load the version's champion and serve in a background thread; port 0 picks a free port (`server.url`)."""
    from models.retail.serving import load_recommender

    return Server(create_shop_app(load_recommender(model_dir)), host, port).start()
