"""Declared tables and datasets: each Delta table and TFRecord dataset of a domain is declared once, in
`assets/<domain>/tables.py`, and every asset, check, serving command and test refers to that declaration.

    BASKETS = DeltaTableSpec("dunnhumby_baskets", BASKETS_SCHEMA, partition_by=("SHOP_WEEK",),
                             keys=("BASKET_ID",), personal_data=())
    result = BASKETS.store(storage).overwrite(table, Window.of("SHOP_WEEK", week))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa

from foundation.storage.tfrecords import FeatureSpec

if TYPE_CHECKING:
    from foundation.resources import StorageResource
    from foundation.storage.delta_tables import DeltaStore


@dataclass(frozen=True)
class DeltaTableSpec:
    """A Delta table: its name under `<root>/delta/`, Arrow schema, partition columns, key columns (unique
    per row) and the columns that hold personal data (kept out of metadata and logs)."""

    name: str
    schema: pa.Schema
    partition_by: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    personal_data: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        unknown = sorted({*self.partition_by, *self.keys, *self.personal_data} - set(self.schema.names))
        if unknown:
            raise ValueError(f"table {self.name}: columns {unknown} are not in its schema")

    def store(self, storage: StorageResource) -> DeltaStore:
        return storage.delta(self.name, self.schema, self.partition_by, personal_data=self.personal_data)


@dataclass(frozen=True)
class TFRecordDatasetSpec:
    """A TFRecord dataset under `<root>/tfrecords/<name>/<partition>/`: its features, declared once."""

    name: str
    features: Mapping[str, FeatureSpec] = field(default_factory=dict)
    description: str = ""

    def uri(self, storage: StorageResource, partition: str = "all") -> str:
        return storage.tfrecords_uri(self.name, partition)
