"""Dagster resources shared by every pipeline."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
from dagster import ConfigurableResource

from pipelines.storage.delta_tables import DeltaStore
from pipelines.storage.quarantine import QUARANTINE_SCHEMA, Quarantine

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

    def delta(self, name: str, schema: pa.Schema, partition_by: list[str] | tuple[str, ...] = ()) -> DeltaStore:
        return DeltaStore(self.uri("delta", name), schema, partition_by, self.storage_options)

    def quarantine(self, source: str, partition: str = "__all__") -> Quarantine:
        store = DeltaStore(
            self.uri("quarantine", source), QUARANTINE_SCHEMA, ["source_partition"], self.storage_options
        )
        return Quarantine(store, partition)

    def tfrecords_uri(self, dataset: str, partition: str = "all") -> str:
        return self.uri("tfrecords", dataset, partition)

    def model_path(self, model: str, version: str) -> Path:
        return self.local_path("models", model, version)

    def landing_path(self, source: str) -> Path:
        return self.local_path("landing", source)
