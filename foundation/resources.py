"""Dagster resources shared by every pipeline."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
from dagster import ConfigurableResource

from foundation.landing import LandingFolder
from foundation.model_store import ModelStore
from foundation.storage.delta_tables import DeltaStore
from foundation.storage.filesystems import delta_storage_options, is_remote
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

    `root_uri` may be `s3://bucket/prefix`: every artifact then lives in the bucket (Delta through
    deltalake's object store, the rest through pyarrow.fs: foundation/storage/filesystems.py), both reading
    credentials from the environment (AWS_ACCESS_KEY_ID, ...) so they never sit in config or logs;
    `storage_options` carries only non-secret delta-rs options (a secret there is refused). Local disk then
    holds only scratch work in temp folders (`scratch_path`: training checkpoints; downloads being ingested).
    """

    root_uri: str = DEFAULT_ROOT
    storage_options: dict[str, str] = {}

    def uri(self, *parts: str) -> str:
        root = self.root_uri.rstrip("/")
        if "://" not in root:
            root = str(Path(root).resolve())
        return "/".join([root, *parts])

    @property
    def remote(self) -> bool:
        """Whether the root is an object store (nothing but scratch on local disk)."""
        return is_remote(self.root_uri)

    def local_path(self, *parts: str) -> Path:
        """A local folder under a local root, created on demand (tests and local tools; pipelines use
        `uri`, `landing` and `scratch_path`, which also serve an object-store root)."""
        if self.remote:
            raise ValueError(f"{'/'.join(parts)} needs a local root, not {self.root_uri}: use uri() or landing()")
        path = Path(self.uri(*parts))
        path.mkdir(parents=True, exist_ok=True)
        return path

    def scratch_path(self, *parts: str) -> Path:
        """A local folder for work that may be lost (training checkpoints): under the root when it is local,
        else under the temp folder, per root, so a re-run on the same machine still finds it."""
        if not self.remote:
            return self.local_path(*parts)
        root = hashlib.sha256(self.root_uri.encode()).hexdigest()[:12]
        path = Path(tempfile.gettempdir(), "storefront-scratch", root, *parts)
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
        uri = self.uri("delta", name)
        return DeltaStore(uri, schema, partition_by, delta_storage_options(uri, self.storage_options), personal_data)

    def quarantine(self, source: str, partition: str = "__all__") -> Quarantine:
        uri = self.uri("quarantine", source)
        options = delta_storage_options(uri, self.storage_options)
        return Quarantine(DeltaStore(uri, QUARANTINE_SCHEMA, ["source_partition"], options), partition)

    def tfrecords_uri(self, dataset: str, partition: str = "all") -> str:
        return self.uri("tfrecords", dataset, partition)

    def model_store(self, model: str, partition: str | None = None) -> ModelStore:
        """Versioned models under `<root>/models/<model>/[<partition>/]`: see foundation/model_store.py."""
        return ModelStore(self.uri("models", model, *([partition] if partition else [])))

    def landing(self, source: str) -> LandingFolder:
        """`<root>/landing/<source>`: where files are dropped for ingestion (local or object store)."""
        return LandingFolder(self.uri("landing", source))

    def landing_path(self, source: str) -> Path:
        """The landing folder of a local root as a local folder (tests, local tools)."""
        return self.local_path("landing", source)
