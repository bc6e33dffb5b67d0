"""The Dagster code location: every domain module under `assets/` contributes its `defs`.

Each `assets/<domain>.py` ends with `defs = dg.Definitions(assets=..., asset_checks=..., jobs=...,
sensors=..., schedules=...)`; this module merges them and binds the shared resources, so adding a
pipeline never edits a central list.
"""

from __future__ import annotations

import importlib
import pkgutil

import dagster as dg

import assets as assets_package
from pipelines.resources import StorageResource, default_root_uri


def domain_modules() -> list:
    modules = []
    for info in sorted(pkgutil.iter_modules(assets_package.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"assets.{info.name}")
        if hasattr(module, "defs"):
            modules.append(module)
    return modules


def shared_resources() -> dict[str, object]:
    return {"storage": StorageResource(root_uri=default_root_uri())}


def build_definitions() -> dg.Definitions:
    domain_defs = [m.defs for m in domain_modules()]
    return dg.Definitions.merge(*domain_defs, dg.Definitions(resources=shared_resources()))


defs = build_definitions()
