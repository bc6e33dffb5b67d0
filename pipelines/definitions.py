"""The Dagster code location: every domain package under `assets/` contributes its `defs`.

Each `assets/<domain>/definitions.py` holds `defs = dg.Definitions(assets=..., asset_checks=..., jobs=...,
sensors=..., schedules=..., resources=...)`; this module merges them and binds the shared resources, so
adding a pipeline never edits a central list.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import warnings

import dagster as dg

import assets as assets_package
from foundation.resources import StorageResource, default_root_uri

# Backfill policies and partitioned checks are marked beta/preview; they are deliberate here.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)


def domain_definitions() -> dict[str, dg.Definitions]:
    """Each domain's `defs`, by domain name (`assets/<domain>/definitions.py`)."""
    packages = sorted(pkgutil.iter_modules(assets_package.__path__), key=lambda i: i.name)
    return {
        i.name: importlib.import_module(f"assets.{i.name}.definitions").defs
        for i in packages
        if i.ispkg and not i.name.startswith("_")
    }


def shared_resources() -> dict[str, object]:
    return {"storage": StorageResource(root_uri=default_root_uri())}


def default_executor() -> dg.ExecutorDefinition:
    """Steps run in subprocesses (isolation, at most 2 at once on small machines) unless
    STOREFRONT_EXECUTOR=in_process, which saves a process start per step on tiny runs."""
    if os.environ.get("STOREFRONT_EXECUTOR", "multiprocess") == "in_process":
        return dg.in_process_executor
    return dg.multiprocess_executor.configured({"max_concurrent": int(os.environ.get("STOREFRONT_MAX_STEPS", "2"))})


def automation_sensor() -> dg.AutomationConditionSensorDefinition:
    """Evaluates the assets' automation conditions (models and scores follow new data). Running by
    default, unlike Dagster's implicit one, so `make ui` needs no manual switch."""
    return dg.AutomationConditionSensorDefinition(
        "storefront_automation_sensor",
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=60,
    )


def build_definitions() -> dg.Definitions:
    return dg.Definitions.merge(
        *domain_definitions().values(),
        dg.Definitions(resources=shared_resources(), executor=default_executor(), sensors=[automation_sensor()]),
    )


defs = build_definitions()
