"""The recommendations page in real headless Chromium: pick a user, see the history and each model's top 10."""

import pytest

from assets.amazon.dataset import build_for_tag
from assets.amazon.tables import ITEMS, REVIEWS
from foundation.browser import launch_options
from models.amazon.dataset_builder import BuildSpec
from models.amazon.recommendations_page import serve
from pipelines.commands.amazon_ui import load_app
from scrapers.amazon.ingest import ingest_file

from .conftest import SMALL


@pytest.fixture
def app(storage, landed):
    for kind, store, path in [
        ("reviews", REVIEWS.store(storage), landed.reviews_path),
        ("items", ITEMS.store(storage), landed.meta_path),
    ]:
        ingest_file(store, storage.quarantine(f"amazon_{kind}", SMALL.category), path, kind, SMALL.category)
    build_for_tag(storage, "ui", BuildSpec(category=SMALL.category, min_interactions=3, min_ratings=3), "ui-test")
    return load_app(storage, "ui")


@pytest.mark.slow
def test_pick_a_user_and_see_history_and_top10_per_model(app):
    from playwright.sync_api import sync_playwright

    server = serve(app, port=0)
    url = server.url
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(**launch_options())
            page = browser.new_page()
            page.goto(url)
            assert page.locator("#user option").count() == len(app.users) > 1
            assert "No champion chosen yet" in page.locator("#served-by").inner_text()  # no comparison ran
            user = app.users[1]
            page.select_option("#user", user)
            page.click("#show")
            page.wait_for_selector("#recs-ease")
            assert page.locator("h2").inner_text() == f"History of {user}"
            seen = app.split.train.matrix[app.split.train.user_row(user)].nnz
            assert page.locator("#history tr").count() == seen + 1  # + header
            for name in ("random", "popular", "item_knn", "ease"):
                assert page.locator(f"#recs-{name} tr").count() == 11

            def items(selector: str) -> set[str]:
                return {row.get_attribute("data-item") for row in page.locator(selector).all()}

            history = items("#history tr[data-item]")
            assert len(history) == seen
            for name in ("popular", "item_knn", "ease"):
                assert not items(f"#recs-{name} tr[data-item]") & history  # seen items are excluded
            page.goto(url + "?user=nobody")
            assert "Unknown user" in page.locator("#error").inner_text()
            browser.close()
    finally:
        server.stop()
