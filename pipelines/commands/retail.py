"""`storefront serve retail`: the shop page with recommendations from the latest version's champion (the
two-tower index or the baseline that beat it on validation)."""

from __future__ import annotations

import argparse


def run_serve(args: argparse.Namespace) -> int:
    from foundation.web import Server
    from models.retail.serving import load_recommender
    from models.retail.shop import create_shop_app

    if args.model_dir:
        model_dir = args.model_dir
    else:
        from assets.retail.tables import TWO_TOWER_MODEL
        from foundation.resources import StorageResource, default_root_uri

        model_dir = StorageResource(root_uri=default_root_uri()).model_store(TWO_TOWER_MODEL).path()
    recommender = load_recommender(model_dir)
    server = Server(create_shop_app(recommender), args.host, args.port)
    print(f"shop on {server.url} ({recommender.model_name} from {model_dir}); Ctrl-C stops it", flush=True)
    server.serve_forever()  # uvicorn stops gracefully on Ctrl-C
    return 0
