"""Data quality: the blocking per-week profile of the ingested transactions."""

from typing import Any

import dagster as dg
import polars as pl

from assets.dunnhumby.ingestion import dunnhumby_transactions, partition_weeks
from assets.dunnhumby.partitions import WEEK, week_partitions
from assets.dunnhumby.tables import TRANSACTIONS
from foundation.resources import StorageResource
from foundation.storage.delta_tables import Window
from scrapers.dunnhumby.profiling import empty_or_broken, profile_weeks, profiles_markdown


@dg.asset_check(asset=dunnhumby_transactions, partitions_def=week_partitions, blocking=True)
def dunnhumby_transactions_profile(
    context: dg.AssetCheckExecutionContext, storage: StorageResource
) -> dg.AssetCheckResult:
    """Per week: rows, baskets, missing shares, value domains, numeric ranges, dates inside the week."""
    weeks = partition_weeks(context)
    lines = pl.from_arrow(TRANSACTIONS.store(storage).read(Window.of(WEEK, *weeks)))
    profiles = profile_weeks(lines, weeks)
    metadata: dict[str, Any] = {"profile": dg.MetadataValue.md(profiles_markdown(profiles))}
    metadata["details"] = dg.MetadataValue.json(profiles)
    if len(profiles) == 1:
        metadata |= {"rows": profiles[0]["rows"], "anonymous_share": profiles[0]["anonymous_share"]}
    return dg.AssetCheckResult(
        passed=not any(p["problems"] for p in profiles),
        severity=dg.AssetCheckSeverity.ERROR if empty_or_broken(profiles) else dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )
