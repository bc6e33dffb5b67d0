"""The `storefront` command line. Subcommands live in `pipelines/commands/<name>.py`, each with
`register(subparsers)`, so a pipeline adds its commands without editing this file."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import pipelines.commands as commands_package
from pipelines.instance import ensure_dagster_home


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="storefront", description="Storefront retail ML pipelines")
    sub = parser.add_subparsers(dest="command", required=True)
    for info in sorted(pkgutil.iter_modules(commands_package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"pipelines.commands.{info.name}")
        if hasattr(module, "register"):  # other modules hold handlers that a command reuses
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    ensure_dagster_home()
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
