"""Landing-file fingerprints: what an ingestion asset records and a landing sensor compares.

A sensor's cursor only knows the files it launched runs for itself; a file ingested by the demo, a manual
`dg launch` or a backfill would be ingested again by the next tick (`make demo` then `make ui` relaunched
every demo file). So each ingestion asset records the fingerprint of every file it read on its
materialisation, and a sensor skips a file whose fingerprint equals the one on the partition's latest
materialisation: whoever ingested it, a file is run once, and a replaced file (new size or mtime) runs again.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import dagster as dg

METADATA_KEY = "landing_fingerprints"  # {file name: fingerprint} on the ingestion asset's materialisation


def fingerprint(path: Path) -> str:
    """Size and mtime (nanoseconds): cheap for multi-GB files in a sensor tick, and changed by every
    re-delivery, which writes the file anew. A content hash would mean reading every file on every tick."""
    stat = path.stat()
    return f"{stat.st_size}-{stat.st_mtime_ns}"


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


def already_ingested(instance: dg.DagsterInstance, asset: dg.AssetKey, partition: str, path: Path) -> bool:
    """Whether the partition's latest materialisation of `asset` read this very version of `path`."""
    return ingested_fingerprint(instance, asset, partition, path.name) == fingerprint(path)
