"""`storefront demo`: materialise every pipeline on the embedded default data."""

from __future__ import annotations

import argparse
import os
import time


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="materialise every asset on the embedded default data")
    parser.add_argument("--only", nargs="*", default=[], help="domains to run (default: all)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pipelines.demo import run_demo

    started = time.perf_counter()
    ctx = run_demo(args.only)
    print()
    print(ctx.summary() if ctx.rows else "no assets materialised")
    print(f"\ndemo finished in {time.perf_counter() - started:.0f}s; instance: {os.environ.get('DAGSTER_HOME')}")
    print("open the UI on the same instance with: make ui   (then http://127.0.0.1:3000)")
    return 0
