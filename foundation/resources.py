"""Dagster resources shared by every pipeline."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
from dagster import ConfigurableResource

from foundation.model_store import ModelStore
from foundation.storage.delta_tables import DeltaStore
from foundation.storage.quarantine import QUARANTINE_SCHEMA, Quarantine

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = str(REPO_ROOT / ".storefront" / "data")


def default_root_uri() -> str:
    return os.environ.get("STOREFRONT_ROOT", DEFAULT_ROOT)


class StorageResource(ConfigurableResource):
    """Root under which every Delta table, TFRecord shard, model artifact and landing file lives.

    Layout (see README "Where data and models live"):
      <root>/delta/<table>              Delta tables
      <root>/quarantine/<source>        rejected records (Delta)
      <root>/tfrecords/<dataset>/<part> TFRecord shards + manifest.json
      <root>/models/<model>/<version>   saved models and their reports
      <root>/landing/<source>           files dropped for ingestion (sensors watch these)

    `root_uri` may be `s3://bucket/prefix`: Delta tables then go through deltalake's object store,
    which reads credentials from the environment (AWS_ACCESS_KEY_ID, ...) so they never sit in
    config or logs; `storage_options` carries the non-secret rest (region, endpoint).
    """

    root_uri: str = DEFAULT_ROOT
    storage_options: dict[str, str] = {}

    def uri(self, *parts: str) -> str:
        root = self.root_uri.rstrip("/")
        if "://" not in root:
            root = str(Path(root).resolve())
        return "/".join([root, *parts])

    def local_path(self, *parts: str) -> Path:
        """A local folder under the root (landing files, models): created on demand."""
        if "://" in self.root_uri:
            raise ValueError(f"{'/'.join(parts)} needs a local root, not {self.root_uri}")
        path = Path(self.uri(*parts))
        path.mkdir(parents=True, exist_ok=True)
        return path

    def delta(
        self,
        name: str,
        schema: pa.Schema,
        partition_by: Sequence[str] = (),
        personal_data: Sequence[str] = (),
    ) -> DeltaStore:
        """A Delta table under the root; domains declare theirs once as `DeltaTableSpec`s (foundation/tables.py)."""
        return DeltaStore(self.uri("delta", name), schema, partition_by, self.storage_options, personal_data)

    def quarantine(self, source: str, partition: str = "__all__") -> Quarantine:
        store = DeltaStore(
            self.uri("quarantine", source), QUARANTINE_SCHEMA, ["source_partition"], self.storage_options
        )
        return Quarantine(store, partition)

    def tfrecords_uri(self, dataset: str, partition: str = "all") -> str:
        return self.uri("tfrecords", dataset, partition)

    def model_store(self, model: str, partition: str | None = None) -> ModelStore:
        """Versioned models under `<root>/models/<model>/[<partition>/]`: see foundation/model_store.py."""
        return ModelStore(self.uri("models", model, *([partition] if partition else [])))

    def landing_path(self, source: str) -> Path:
        return self.local_path("landing", source)
