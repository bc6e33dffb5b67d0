"""Ingestion: the shop-week calendar, the weekly transaction files (bad lines quarantined, unusable files
rejected whole) and the baskets built from them."""

from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from assets.dunnhumby.partitions import WEEK, week_partitions
from assets.dunnhumby.resources import DunnhumbyModelsResource
from assets.dunnhumby.tables import BASKETS, CALENDAR, LANDING_SOURCE, TRANSACTIONS
from foundation.automation import derived_table
from foundation.landing import fingerprint, fingerprint_metadata
from foundation.progress import Progress
from foundation.resources import StorageResource
from foundation.run_config import IngestionConfig, shrink_allowed
from foundation.storage.delta_tables import ShrinkRefused, Window
from foundation.storage.quarantine import TooManyRejects
from models.dunnhumby.baskets import baskets_from_lines
from scrapers.dunnhumby.week_files import (
    CALENDAR_FILE,
    FileRejected,
    landed_file,
    parse_week_file,
    read_calendar,
    week_file_name,
)

GROUP = "dunnhumby"


def partition_weeks(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[str]:
    """The weeks of a run: one, or every week of a single-run range backfill."""
    return sorted(context.partition_keys)


@dg.asset(
    group_name=GROUP,
    description="The shop-week calendar (`time.csv` in the landing folder).",
    kinds={"delta"},
)
def dunnhumby_shop_calendar(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    landing = storage.landing(LANDING_SOURCE)
    calendar = landing.file(CALENDAR_FILE)
    if calendar is None:
        raise dg.Failure(
            description=f"no calendar at {landing.uri}/{CALENDAR_FILE}: drop the dataset's {CALENDAR_FILE} there",
            metadata={"expected_file": dg.MetadataValue.path(f"{landing.uri}/{CALENDAR_FILE}")},
        )
    with landing.local_copy(calendar) as path:
        table = read_calendar(path)
    result = CALENDAR.store(storage).replace_all(table)
    return dg.MaterializeResult(metadata=result.metadata() | {"source_file": dg.MetadataValue.path(calendar.uri)})


@dg.asset(
    group_name=GROUP,
    partitions_def=week_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Weekly transaction lines, explicit schema, both column variants; bad lines quarantined.",
    kinds={"delta"},
)
def dunnhumby_transactions(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    dunnhumby_models: DunnhumbyModelsResource,
    config: IngestionConfig,
) -> dg.MaterializeResult:
    landing = storage.landing(LANDING_SOURCE)
    listing = landing.files()
    tables, per_week, rejected_files, fingerprints = [], {}, {}, {}
    weeks = partition_weeks(context)
    progress = Progress(context.log, "transaction lines")
    for week in weeks:
        path = landed_file(listing, week)
        if path is None:
            raise dg.Failure(
                description=f"no landed file for shop week {week} in {landing.uri} "
                f"({week_file_name(week, False)}[.gz])",
                metadata={"landing": dg.MetadataValue.path(landing.uri), "week": week},
            )
        fingerprints[path.name] = fingerprint(path)  # before reading; the landing sensor skips files recorded here
        quarantine = storage.quarantine(LANDING_SOURCE, week)
        try:
            with landing.local_copy(path) as local:  # the file itself on a local root, a temp download otherwise
                parsed = parse_week_file(local, week)
        except FileRejected as error:
            # The whole file is unusable: record why, leave the week's previous rows untouched, fail below.
            quarantine.reject(path.name, str(error), location=path.uri)
            quarantine.commit(context.run_id)
            rejected_files[week] = str(error)
            context.log.error(str(error))
            continue
        progress.advance(parsed.rows_read)
        for reject in parsed.rejects:
            quarantine.reject(reject.raw, reject.reason, reject.location)
        quarantine_meta = quarantine.commit(context.run_id)
        try:
            quarantine.check_share(parsed.rows_read, dunnhumby_models.max_reject_share)
        except TooManyRejects as error:
            rejected_files[week] = str(error)
            continue
        tables.append(parsed.table)
        anonymous = pc.sum(parsed.table["IS_ANONYMOUS"]).as_py() or 0
        per_week[week] = {
            "file": path.name,
            "variant": parsed.variant,
            "rows_read": parsed.rows_read,
            "rows_kept": parsed.table.num_rows,
            "blank_lines": parsed.blank_lines,
            "quarantined": quarantine.count,
            "anonymous_share": round(anonymous / max(parsed.table.num_rows, 1), 4),
            "quarantine_reasons": quarantine.reasons(),
        }
        context.log.info(f"{path.name}: {per_week[week]}; quarantine {quarantine_meta['quarantine_table'].value}")

    progress.done()
    metadata: dict[str, Any] = {
        "weeks": dg.MetadataValue.json(per_week),
        **progress.metadata(),
        **fingerprint_metadata(fingerprints),  # a run with a rejected file fails below: nothing recorded
    }
    if tables:
        try:
            result = TRANSACTIONS.store(storage).overwrite(
                pa.concat_tables(tables), Window.of(WEEK, *per_week), allow_shrink=shrink_allowed(context, config)
            )
        except ShrinkRefused as error:  # the quarantines are committed above; the weeks keep their rows
            raise dg.Failure(description=str(error), metadata=metadata) from error
        metadata |= result.metadata()
        metadata["quarantined_rows"] = sum(w["quarantined"] for w in per_week.values())
        if len(per_week) == 1:
            metadata["anonymous_share"] = next(iter(per_week.values()))["anonymous_share"]
    if rejected_files:
        raise dg.Failure(
            description=f"rejected {len(rejected_files)} week file(s): " + "; ".join(rejected_files.values()),
            metadata={"rejected": dg.MetadataValue.json(rejected_files), **metadata},
        )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    group_name=GROUP,
    partitions_def=week_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dunnhumby_transactions],
    description="One row per basket: its products, quantities, totals and basket attributes.",
    kinds={"delta"},
    automation_condition=derived_table(),  # cheap, per week; the weekly job already builds it with its week
)
def dunnhumby_baskets(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    window = Window.of(WEEK, *partition_weeks(context))
    baskets = baskets_from_lines(TRANSACTIONS.store(storage).read(window))
    # Derived from the shrink-guarded transactions: it follows them, also when a shrink was allowed there.
    result = BASKETS.store(storage).overwrite(baskets, window, allow_shrink=True)
    anonymous = pc.sum(baskets["IS_ANONYMOUS"]).as_py() or 0
    return dg.MaterializeResult(
        metadata=result.metadata()
        | {
            "baskets": baskets.num_rows,
            "anonymous_baskets": anonymous,
            "mean_items": round(float(pc.mean(baskets["N_ITEMS"]).as_py() or 0.0), 2),
        }
    )
