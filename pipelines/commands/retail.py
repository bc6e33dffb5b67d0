"""`storefront retail serve`: the shop page with recommendations from the latest two-tower index."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("retail", help="retail pipeline tools")
    commands = parser.add_subparsers(dest="retail_command", required=True)
    serve = commands.add_parser("serve", help="host the shop page (browse, cart, 10 recommendations)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--model-dir", help="a saved retail_two_tower version (default: the latest one)")
    serve.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    from models.retail_shop import start_shop
    from pipelines.resources import StorageResource, default_root_uri

    if args.model_dir:
        model_dir = args.model_dir
    else:
        from assets.retail import latest_model_dir

        model_dir = latest_model_dir(StorageResource(root_uri=default_root_uri()))
    server, thread = start_shop(model_dir, args.host, args.port)
    host, port = server.server_address[:2]
    print(f"shop on http://{host}:{port}/ (model {model_dir}); Ctrl-C stops it", flush=True)
    try:
        thread.join()
    except KeyboardInterrupt:
        server.shutdown()
    return 0
