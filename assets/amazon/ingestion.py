"""Ingestion: each landed file streamed into its Delta table (scrapers/amazon/ingest.py), one category a run."""

from pathlib import Path
from typing import Any

import dagster as dg

from assets.amazon.partitions import category_partitions
from assets.amazon.tables import ITEMS, REVIEWS
from foundation.markdown import markdown_table
from foundation.resources import StorageResource
from scrapers.amazon.ingest import ingest_file
from scrapers.amazon.landing import LANDING_SOURCE, file_name, landed_file


def _ingest_metadata(path: Path, stats: dict[str, Any], quarantine_meta: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "source_file": dg.MetadataValue.path(str(path)),
        "source_lines": stats["lines"],
        "blank_lines": stats["blank_lines"],
        "source_mb": round(stats["bytes"] / 1e6, 2),
        "mb_per_second": round(stats["bytes"] / 1e6 / max(stats["seconds"], 1e-9), 1),
    }
    if stats["rating_counts"]:
        rows = [(f"{k:g}", f"{v:,}") for k, v in sorted(stats["rating_counts"].items())]
        meta["rating_distribution"] = dg.MetadataValue.md(markdown_table(("rating", "reviews"), rows))
    return meta | quarantine_meta


def _ingest_partitions(context: dg.AssetExecutionContext, storage: StorageResource, kind: str) -> dg.MaterializeResult:
    table = REVIEWS if kind == "reviews" else ITEMS
    store = table.store(storage)
    folder = storage.landing_path(LANDING_SOURCE)
    metadata: dict[str, Any] = {}
    # One category per run from the sensor; a range backfill (single run) walks its categories in turn.
    for category in context.partition_keys:
        path = landed_file(folder, kind, category)
        if path is None:
            names = [file_name(kind, category, compressed) for compressed in (False, True)]
            raise dg.Failure(
                description=f"no {' or '.join(names)} in {folder}",
                metadata={"landing_folder": dg.MetadataValue.path(str(folder)), "category": category},
            )
        context.log.info(f"ingesting {path} into {table.name}[{category}]")
        quarantine = storage.quarantine(table.name, category)
        result, stats = ingest_file(store, quarantine, path, kind, category, log=context.log)
        metadata = result.metadata() | _ingest_metadata(path, stats, quarantine.commit(context.run_id))
        context.log.info(
            f"{table.name}[{category}]: {result.rows_written:,} rows, {quarantine.count} quarantined "
            f"{quarantine.reasons()}, {metadata['mb_per_second']} MB/s"
        )
    return dg.MaterializeResult(metadata=metadata)


def _ingestion_asset(name: str, kind: str, description: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=name,
        partitions_def=category_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="amazon",
        kinds={"delta"},
        description=description,
    )
    def _asset(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
        return _ingest_partitions(context, storage, kind)

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
