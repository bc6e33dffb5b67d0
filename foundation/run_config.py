"""Dagster run configs derived from the models' own dataclasses, so a setting is declared once.

    TwoTowerTrainingConfig = run_config_for(TwoTowerConfig, "TwoTowerTrainingConfig")
    def retail_two_tower_model(config: TwoTowerTrainingConfig): train(config.to_dataclass())

A field the UI should default differently from the dataclass (or a required dataclass field that needs a
default in the launchpad) is given in `defaults`.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, TypeVar

import dagster as dg
import pydantic

T = TypeVar("T")


def run_config_for(
    dataclass_type: type[T], name: str, defaults: dict[str, Any] | None = None, doc: str | None = None
) -> type[dg.Config]:
    """A `dg.Config` class with the dataclass' fields, types and defaults, and `.to_dataclass()`."""
    hints = typing.get_type_hints(dataclass_type)
    overrides = defaults or {}
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(dataclass_type):  # type: ignore[arg-type]
        if not f.init:
            continue
        if f.name in overrides:
            default: Any = overrides[f.name]
        elif f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = pydantic.Field(default_factory=f.default_factory)
        else:
            default = ...
        fields[f.name] = (hints[f.name], default)

    def to_dataclass(self: dg.Config) -> T:
        return dataclass_type(**{k: getattr(self, k) for k in fields})

    config = pydantic.create_model(name, __base__=dg.Config, __doc__=doc or dataclass_type.__doc__, **fields)
    config.to_dataclass = to_dataclass  # type: ignore[attr-defined]
    config.__module__ = dataclass_type.__module__
    return config


# The shrink guard of `DeltaStore.overwrite` (foundation/storage/delta_tables.py), reachable by an operator:
# the `allow_shrink` field in the launchpad, or this run tag (also settable on a backfill, which has no config).
ALLOW_SHRINK_TAG = "storefront/allow_shrink"


class IngestionConfig(dg.Config):
    """Run config of the ingestion assets."""

    allow_shrink: bool = pydantic.Field(
        default=False,
        description="Let this run leave a partition empty or with under half of its previous rows "
        "(for a source that really lost data). Off: such a write fails and the table keeps its previous version.",
    )


def shrink_allowed(context: dg.AssetExecutionContext, config: IngestionConfig | None = None) -> bool:
    """Whether the run may shrink partitions: the config field or the run tag `storefront/allow_shrink=true`."""
    tagged = context.run.tags.get(ALLOW_SHRINK_TAG, "").strip().lower() in ("true", "1", "yes")
    return tagged or bool(config is not None and config.allow_shrink)
