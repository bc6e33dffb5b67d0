"""`storefront serve retail`: the shop page with recommendations from the latest two-tower index."""

from __future__ import annotations

import argparse


def run_serve(args: argparse.Namespace) -> int:
    from models.retail.shop import start_shop

    if args.model_dir:
        model_dir = args.model_dir
    else:
        from assets.retail.tables import TWO_TOWER_MODEL
        from foundation.resources import StorageResource, default_root_uri

        model_dir = StorageResource(root_uri=default_root_uri()).model_store(TWO_TOWER_MODEL).path()
    server, thread = start_shop(model_dir, args.host, args.port)
    host, port = server.server_address[:2]
    print(f"shop on http://{host}:{port}/ (model {model_dir}); Ctrl-C stops it", flush=True)
    try:
        thread.join()
    except KeyboardInterrupt:
        server.shutdown()
    return 0
