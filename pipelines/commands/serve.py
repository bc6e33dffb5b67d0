"""`storefront serve <page>`: each pipeline's web page on 127.0.0.1."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipelines.commands import amazon_ui, code_serve, retail


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="serve a pipeline's web page (code, retail, amazon)")
    pages = parser.add_subparsers(dest="page", required=True)

    code = pages.add_parser("code", help="code completion with the latest char-RNN model")
    code.add_argument("--host", default="127.0.0.1")
    code.add_argument("--port", type=int, default=8010)
    code.add_argument("--model-dir", type=Path, default=None, help="default: the latest char_rnn_model run")
    code.set_defaults(handler=code_serve.run)

    shop = pages.add_parser("retail", help="the shop page: a cart's items give 10 recommendations")
    shop.add_argument("--host", default="127.0.0.1")
    shop.add_argument("--port", type=int, default=8080)
    shop.add_argument("--model-dir", help="a saved retail_two_tower version (default: the latest one)")
    shop.set_defaults(handler=retail.run_serve)

    amazon = pages.add_parser("amazon", help="a user's history and each recommender's top 10")
    amazon.add_argument("--tag", required=True, help="a built dataset tag (storefront build)")
    amazon.add_argument("--port", type=int, default=8050)
    amazon.set_defaults(handler=amazon_ui.run)
