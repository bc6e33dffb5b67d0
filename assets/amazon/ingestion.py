"""Ingestion: each landed file streamed into its Delta table (scrapers/amazon/ingest.py), one category a run.

A failing file still has its rejects committed to the quarantine (too many rejects, a refused shrink), so the
evidence of what was wrong is kept while the category keeps its previous rows. A multi-category run (a range
backfill) reports every category's counts, not only the last one's.
"""

from contextlib import nullcontext
from typing import Any

import dagster as dg

from assets.amazon.partitions import category_partitions
from assets.amazon.tables import ITEMS, REVIEWS
from foundation.compute import COMPUTE_RESOURCE_DEFS, ComputeResource
from foundation.landing import fingerprint, fingerprint_metadata
from foundation.markdown import markdown_table
from foundation.resources import StorageResource
from foundation.run_config import IngestionConfig, shrink_allowed
from foundation.storage.delta_tables import ShrinkRefused
from foundation.storage.quarantine import TooManyRejects
from scrapers.amazon.distributed import cluster_chunks
from scrapers.amazon.ingest import EmptyFile, ingest_file
from scrapers.amazon.landing import LANDING_SOURCE, file_name, landed_file


def _ingest_metadata(path: str, stats: dict[str, Any], quarantine_meta: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "source_file": dg.MetadataValue.path(path),
        "source_lines": stats["lines"],
        "blank_lines": stats["blank_lines"],
        "source_mb": round(stats["bytes"] / 1e6, 2),
        "mb_per_second": round(stats["bytes"] / 1e6 / max(stats["seconds"], 1e-9), 1),
    }
    if stats["rating_counts"]:
        rows = [(f"{k:g}", f"{v:,}") for k, v in sorted(stats["rating_counts"].items())]
        meta["rating_distribution"] = dg.MetadataValue.md(markdown_table(("rating", "reviews"), rows))
    return meta | quarantine_meta


# Per-file metadata that would describe only the last category of a multi-category run.
_PER_FILE = ("source_file", "blank_lines", "source_mb", "mb_per_second", "rating_distribution", "window", "sample_rows")


def _ingest_partitions(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    kind: str,
    allow_shrink: bool = False,
    compute: ComputeResource | None = None,
) -> dg.MaterializeResult:
    table = REVIEWS if kind == "reviews" else ITEMS
    store = table.store(storage)
    folder = storage.landing(LANDING_SOURCE)
    listing = folder.files()
    metadata: dict[str, Any] = {}
    per_category: dict[str, dict[str, Any]] = {}
    fingerprints: dict[str, str] = {}  # the landing sensor skips files recorded here (foundation/landing.py)
    # One category per run from the sensor; a range backfill (single run) walks its categories in turn.
    for category in context.partition_keys:
        landed = landed_file(listing, kind, category)
        if landed is None:
            names = [file_name(kind, category, compressed) for compressed in (False, True)]
            raise dg.Failure(
                description=f"no {' or '.join(names)} in {folder.uri}",
                metadata={"landing_folder": dg.MetadataValue.path(folder.uri), "category": category},
            )
        fingerprints[landed.name] = fingerprint(landed)  # before reading: a file replaced meanwhile runs again
        context.log.info(f"ingesting {landed.uri} into {table.name}[{category}]")
        quarantine = storage.quarantine(table.name, category)
        failure_meta = {"category": category, "source_file": dg.MetadataValue.path(landed.uri)}
        try:
            # ingest_file reads a local path (its readers open the file by name and suffix, kept signature-stable
            # for the other engines): on an object store the file is first downloaded to a temp file in one
            # streamed GET (network speed, well above parsing speed in-region) and removed after.
            # On a Ray cluster each worker reads its own byte ranges of the landed file (no copy on the driver);
            # the quarantine, the checks and the one commit stay in this step either way.
            engine = compute.engine() if compute is not None else None
            with nullcontext(landed.uri) if engine else folder.local_copy(landed) as path:
                chunks = cluster_chunks(engine, path, kind, category) if engine else None
                result, stats = ingest_file(
                    store, quarantine, path, kind, category, log=context.log, allow_shrink=allow_shrink, chunks=chunks
                )
        except (TooManyRejects, ShrinkRefused) as error:
            # The file was read: keep its rejects as evidence before failing (the category keeps its rows).
            failure_meta |= quarantine.commit(context.run_id)
            if isinstance(error, TooManyRejects):
                raise
            raise dg.Failure(description=str(error), metadata=failure_meta) from error
        except EmptyFile as error:
            raise dg.Failure(description=str(error), metadata=failure_meta) from error
        metadata = result.metadata() | _ingest_metadata(landed.uri, stats, quarantine.commit(context.run_id))
        per_category[category] = {
            "source_file": landed.name,
            "source_lines": stats["lines"],
            "rows_written": result.rows_written,
            "quarantined_rows": quarantine.count,
            "quarantine_reasons": quarantine.reasons(),
            "table_version": result.version,
        }
        context.log.info(
            f"{table.name}[{category}]: {result.rows_written:,} rows, {quarantine.count} quarantined "
            f"{quarantine.reasons()}, {metadata['mb_per_second']} MB/s"
        )
    if len(per_category) > 1:
        metadata = {k: v for k, v in metadata.items() if k not in _PER_FILE} | {
            "categories": dg.MetadataValue.json(per_category),
            "source_lines": sum(c["source_lines"] for c in per_category.values()),
            "rows_written": sum(c["rows_written"] for c in per_category.values()),
            "quarantined_rows": sum(c["quarantined_rows"] for c in per_category.values()),
            "quarantine_reasons": dg.MetadataValue.json(
                {cat: c["quarantine_reasons"] for cat, c in per_category.items()}
            ),
        }
    return dg.MaterializeResult(metadata=metadata | fingerprint_metadata(fingerprints))


def _ingestion_asset(name: str, kind: str, description: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=name,
        partitions_def=category_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="amazon",
        kinds={"delta"},
        description=description,
        resource_defs=COMPUTE_RESOURCE_DEFS,
    )
    def _asset(
        context: dg.AssetExecutionContext, storage: StorageResource, compute: ComputeResource, config: IngestionConfig
    ) -> dg.MaterializeResult:
        return _ingest_partitions(context, storage, kind, shrink_allowed(context, config), compute)

    return _asset


amazon_reviews = _ingestion_asset(
    "amazon_reviews",
    "reviews",
    "Amazon Reviews 2023 reviews of one category (`<Category>.jsonl[.gz]`), streamed into Delta.",
)
amazon_items = _ingestion_asset(
    "amazon_items",
    "items",
    "Amazon Reviews 2023 item metadata of one category (`meta_<Category>.jsonl[.gz]`).",
)
