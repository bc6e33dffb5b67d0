"""Landing-file fingerprints: what an ingestion asset records and a landing sensor compares.

A sensor's cursor only knows the files it launched runs for itself; a file ingested by the demo, a manual
`dg launch` or a backfill would be ingested again by the next tick (`make demo` then `make ui` relaunched
every demo file). So each ingestion asset records the fingerprint of every file it read on its
materialisation, and a sensor skips a file whose fingerprint equals the one on the partition's latest
materialisation: whoever ingested it, a file is run once, and a replaced file (new size or mtime) runs again.

The landing folder may be a local folder or an object-store prefix (`LandingFolder`, from
`StorageResource.landing`): a sensor tick is one LIST, and on an object store a file's fingerprint is its
size and ETag (foundation/storage/filesystems.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from foundation.storage.filesystems import ObjectInfo, list_files, local_copy, object_info, upload_file

METADATA_KEY = "landing_fingerprints"  # {file name: fingerprint} on the ingestion asset's materialisation


def fingerprint(file: Path | ObjectInfo) -> str:
    """Size and mtime (nanoseconds) of a local file: cheap for multi-GB files in a sensor tick, and changed by
    every re-delivery, which writes the file anew. A content hash would mean reading every file on every tick.
    A listed file (`ObjectInfo`) carries its own: the same locally, size and ETag on an object store."""
    if isinstance(file, ObjectInfo):
        return file.fingerprint
    stat = file.stat()
    return f"{stat.st_size}-{stat.st_mtime_ns}"


@dataclass(frozen=True)
class LandingFolder:
    """Where one source's files are dropped: `<root>/landing/<source>`, a folder or an object-store prefix."""

    uri: str

    def files(self) -> list[ObjectInfo]:
        """Every file directly in the folder, by name (one LIST on an object store)."""
        return list_files(self.uri)

    def file(self, name: str) -> ObjectInfo | None:
        return object_info(f"{self.uri}/{name}")

    @contextmanager
    def local_copy(self, file: ObjectInfo | str) -> Iterator[Path]:
        """A local path to read the file from: itself on a local root, a temp download otherwise."""
        with local_copy(file.uri if isinstance(file, ObjectInfo) else f"{self.uri}/{file}") as path:
            yield path

    def put(self, local: Path, name: str | None = None) -> ObjectInfo:
        """Land a local file (copied under a temp name and renamed locally; one upload on an object store)."""
        upload_file(local, f"{self.uri}/{name or local.name}")
        landed = self.file(name or local.name)
        if landed is None:  # an eventually consistent store; S3 has been read-after-write consistent since 2020
            raise FileNotFoundError(f"{self.uri}/{name or local.name} not found right after landing it")
        return landed


def fingerprint_metadata(fingerprints: Mapping[str, str]) -> dict[str, dg.MetadataValue]:
    """Asset metadata recording the sources (files; stores by watermark) a materialisation read: take the
    fingerprints before reading, so a source replaced meanwhile is ingested again."""
    return {METADATA_KEY: dg.MetadataValue.json(dict(sorted(fingerprints.items())))}


def ingested_fingerprint(
    instance: dg.DagsterInstance, asset: dg.AssetKey, partition: str, file_name: str
) -> str | None:
    """The fingerprint of `file_name` on the partition's latest materialisation of `asset`; None if none."""
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[partition]), 1)
    if not records.records or records.records[0].asset_materialization is None:
        return None
    recorded = records.records[0].asset_materialization.metadata.get(METADATA_KEY)
    value = getattr(recorded, "value", None)
    return value.get(file_name) if isinstance(value, dict) else None


def already_ingested(instance: dg.DagsterInstance, asset: dg.AssetKey, partition: str, file: Path | ObjectInfo) -> bool:
    """Whether the partition's latest materialisation of `asset` read this very version of `file`."""
    return ingested_fingerprint(instance, asset, partition, file.name) == fingerprint(file)
