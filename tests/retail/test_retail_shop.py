"""The shop page over real HTTP on 127.0.0.1 (port 0), and in headless Chromium (hostile requests:
tests/faults/test_web_endpoints.py)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from foundation.browser import launch_options
from models.retail.config import TwoTowerConfig
from models.retail.retrieval import catalogue_features
from models.retail.sequences import as_arrays, split_examples
from models.retail.shop import MAX_CART_ITEMS, start_shop
from sandbox.retail import catalogue_frame, generate_world, transactions_frame


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny saved index trained on generated purchases (people as entities)."""
    from models.retail.two_tower import save_index, train

    world = generate_world(n_people=300, n_items=80, seed=5)
    tx = world.transactions.merge(
        world.customers[["StoreID", "ID", "PersonID"]].rename(columns={"ID": "CustomerID"}),
        on=["StoreID", "CustomerID"],
    )
    frame = transactions_frame(world, tx, tx["PersonID"].astype(str))
    train_examples = split_examples(frame).train
    catalogue = catalogue_features(catalogue_frame(world))
    config = TwoTowerConfig(embedding_dim=8, gru_units=8, epochs=1)
    query, embeddings, _ = train(as_arrays(train_examples), catalogue, config)
    return save_index(tmp_path_factory.mktemp("index"), query, embeddings, catalogue, config, {})


@pytest.fixture(scope="module")
def shop(model_dir: Path):
    server = start_shop(model_dir)
    yield server.url.rstrip("/")
    server.stop()


@pytest.mark.slow
def test_recommendations_over_http(shop: str) -> None:
    with httpx.Client(base_url=shop, timeout=30) as client:
        assert client.get("/healthz").json()["items"] == 80
        page = client.get("/")
        assert page.status_code == 200 and "Recommended for this cart" in page.text
        found = client.get("/api/items", params={"q": "dairy", "limit": 5}).json()["items"]
        assert 0 < len(found) <= 5 and all("Dairy" in i["description"] for i in found)
        cart = [found[0]["item_id"], 7]
        answer = client.post("/api/recommendations", json={"items": cart})
        assert answer.status_code == 200
        recommendations = answer.json()["recommendations"]
        assert len(recommendations) == 10
        ids = [r["item_id"] for r in recommendations]
        assert len(set(ids)) == 10 and not set(ids) & set(cart)
        scores = [r["score"] for r in recommendations]
        assert scores == sorted(scores, reverse=True)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "not JSON"),
        (b'{"items": []}', 422, "items: List should have at least 1 item"),
        (b'{"items": ["7"]}', 422, "items.0: Input should be a valid integer"),
        (b'{"items": [7, 99999]}', 422, "unknown item ids"),
        (('{"items": [' + ",".join(["7"] * (MAX_CART_ITEMS + 1)) + "]}").encode(), 422, "at most 50 items"),
        (b'{"items": [' + b"7," * 20000 + b"7]}", 413, "Content Too Large"),
    ],
)
def test_bad_requests_get_clear_4xx(shop: str, body: bytes, status: int, message: str) -> None:
    answer = httpx.post(
        f"{shop}/api/recommendations", content=body, timeout=30, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == status
    assert message in (answer.text if status == 413 else answer.json()["error"])
    if "unknown" in message:
        assert answer.json()["unknown_items"] == [99999]


@pytest.mark.slow
def test_browser_adds_items_and_sees_ten_recommendations(shop: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_options())
        try:
            page = browser.new_page()
            page.goto(shop)
            page.wait_for_selector("li.item button.add")
            page.fill("#search", "Produce")
            page.wait_for_function(
                "[...document.querySelectorAll('li.item')].every(li => li.textContent.includes('Produce'))"
            )
            page.locator("li.item button.add").first.click()
            page.wait_for_function("document.querySelectorAll('li.recommendation').length === 10")
            page.locator("li.item button.add").nth(1).click()
            page.wait_for_function("document.querySelectorAll('li.cart-item').length === 2")
            page.wait_for_function("document.querySelectorAll('li.recommendation').length === 10")
            cart_text = page.locator("li.cart-item").all_inner_texts()
            recommended = page.locator("li.recommendation").evaluate_all(
                "els => els.map(e => Number(e.dataset.itemId))"
            )
            assert len(cart_text) == 2 and len(set(recommended)) == 10
            page.click("#clear")
            page.wait_for_function("document.querySelectorAll('li.recommendation').length === 0")
        finally:
            browser.close()


@pytest.mark.slow
def test_fast_clicks_show_the_ten_recommendations_of_the_final_cart(shop: str) -> None:
    """Issue 16 item 10: three "Add to cart" clicks in one task (all three requests in flight at once)
    used to show 30 entries with duplicates; now the latest cart wins."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_options())
        try:
            page = browser.new_page()
            sent: list[str] = []
            settled: list[str] = []  # answered or aborted
            page.on("request", lambda r: sent.append(r.url) if "recommendations" in r.url else None)
            for event in ("requestfinished", "requestfailed"):
                page.on(event, lambda r: settled.append(r.url) if "recommendations" in r.url else None)
            page.goto(shop)
            page.wait_for_selector("li.item button.add")
            cart = page.evaluate(
                """() => { const buttons = [...document.querySelectorAll('li.item button.add')].slice(0, 3);
                           buttons.forEach(b => b.click());
                           return buttons.map(b => Number(b.parentElement.dataset.itemId)); }"""
            )
            page.wait_for_function("document.querySelectorAll('li.recommendation').length >= 10")
            for _ in range(600):  # until all three requests are answered or aborted (30 s at most)
                if len(settled) >= 3:
                    break
                page.wait_for_timeout(50)
            page.wait_for_timeout(300)  # let the page handle the last answer
            shown = page.locator("li.recommendation").evaluate_all("els => els.map(e => Number(e.dataset.itemId))")
            shown_for = page.locator("#recommendations").get_attribute("data-cart")
        finally:
            browser.close()
    assert len(sent) == 3  # the three requests really were sent, one per click
    final = httpx.post(f"{shop}/api/recommendations", json={"items": cart}, timeout=30).json()["recommendations"]
    assert len(shown) == len(set(shown)) == 10
    assert shown == [r["item_id"] for r in final] and shown_for == ",".join(map(str, cart))


def test_cli_has_retail_serve() -> None:
    from pipelines.cli import build_parser

    args = build_parser().parse_args(["serve", "retail", "--port", "0", "--model-dir", "/tmp/x"])
    assert (args.port, args.model_dir, args.handler.__name__) == (0, "/tmp/x", "run_serve")
