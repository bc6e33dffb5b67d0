"""`storefront serve amazon --tag T`: a small web page to pick a user and see their history next to each model's top 10.

The page itself is `models/amazon/recommendations_page.py`; this loads a built tag's training split and item
titles, fits the recommenders on it (the validation champion of `amazon_model_comparison` among them, shown first
as the served one) and serves the page.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI imports every command at start: the models load only when the page is served
    from models.amazon.recommendations_page import RecommendationsApp

PAGE_MODELS = ("random", "popular", "item_knn", "ease")


def load_app(storage, tag: str, model_names: tuple[str, ...] = PAGE_MODELS) -> RecommendationsApp:
    """The page for a built dataset tag: its split, item titles and `model_names` fitted on the training split."""
    from assets.amazon.resources import AmazonModelSettingsResource
    from assets.amazon.tables import DATASET_ITEMS
    from assets.amazon.training import load_split
    from foundation.storage.delta_tables import Window
    from models.amazon.recommendations_page import RecommendationsApp

    settings = AmazonModelSettingsResource()
    split = load_split(storage, tag, settings)
    items = DATASET_ITEMS.store(storage).read(Window.of("tag", tag), columns=["parent_asin", "title"])
    titles = dict(zip(items["parent_asin"].to_pylist(), items["title"].to_pylist(), strict=True))
    selection = champion_of(storage, tag)
    champion = selection["champion"] if selection else None
    names = tuple(dict.fromkeys((*model_names, *([champion] if champion else []))))
    models = {name: settings.make(name).fit(split.train) for name in names}
    is_baseline = bool(selection and selection["champion_is_baseline"])
    return RecommendationsApp.build(tag, split, titles, models, champion, is_baseline)


def champion_of(storage, tag: str) -> dict | None:
    """The tag's latest champion.json (`amazon_model_comparison`), or None before the first comparison."""
    import json

    from assets.amazon.training import CHAMPION_FILE
    from foundation.model_store import ModelNotFound

    try:
        return json.loads(storage.model_store("amazon_comparison", tag).read_text(CHAMPION_FILE))
    except (ModelNotFound, FileNotFoundError):
        return None


def run(args: argparse.Namespace) -> int:
    from foundation.web import Server
    from models.amazon.recommendations_page import create_page_app
    from pipelines.definitions import shared_resources

    app = load_app(shared_resources()["storage"], args.tag)
    server = Server(create_page_app(app), port=args.port)
    print(f"{server.url}  (Ctrl-C to stop)", flush=True)
    server.serve_forever()  # uvicorn stops gracefully on Ctrl-C
    return 0
