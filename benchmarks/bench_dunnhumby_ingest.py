"""dunnhumby ingestion of every landed week, measured against a plain CSV read in the same process.

1. baseline: `pandas.read_csv(dtype=str)` of every week file (reading only: no types, no checks, no writes).
2. ours, parse only: `parse_week_file` (typed, validated, recoded, bad lines set aside).
3. ours, end to end: one single-run range backfill of `dunnhumby_weekly_job` on a temporary Dagster instance
   (parse + quarantine + Delta overwrite + profiling check + baskets), then the same backfill again, whose row
   counts must not change.

Uses the 44 real weeks in ../shared/data/dunnhumby when present, else sandbox weeks.
Run: .venv/bin/python benchmarks/bench_dunnhumby_ingest.py [--sandbox-weeks N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import dagster as dg  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402

from assets.dunnhumby.automation import WEEKLY_JOB_NAME  # noqa: E402
from assets.dunnhumby.definitions import defs as dunnhumby_defs  # noqa: E402
from assets.dunnhumby.partitions import week_partitions  # noqa: E402
from assets.dunnhumby.resources import DunnhumbyModelsResource  # noqa: E402
from assets.dunnhumby.tables import BASKETS, LANDING_SOURCE, TRANSACTIONS  # noqa: E402
from foundation.resources import REPO_ROOT, StorageResource  # noqa: E402
from models.dunnhumby.baskets import baskets_from_lines  # noqa: E402
from sandbox.dunnhumby import DunnhumbySandbox  # noqa: E402
from scrapers.dunnhumby.week_files import parse_week_file, shop_weeks, week_of  # noqa: E402

REAL_DATA = REPO_ROOT.parent / "shared" / "data" / "dunnhumby"


def land_weeks(landing: Path, sandbox_weeks: int = 20) -> tuple[list[str], str]:
    """Copy the real week files into `landing` (or write sandbox weeks); return the weeks and the source."""
    landing.mkdir(parents=True, exist_ok=True)
    real = sorted(REAL_DATA.glob("transactions_*.csv.gz")) if REAL_DATA.is_dir() else []
    if real:
        for path in real:
            shutil.copy(path, landing / path.name)
        return [week_of(p) for p in real], f"real ({REAL_DATA})"
    weeks = shop_weeks("200607", sandbox_weeks)
    DunnhumbySandbox(seed=7, n_customers=3000).write_weeks(landing, weeks)
    return weeks, "sandbox"


def load_baskets(landing: Path) -> pa.Table:
    """Every landed week parsed and grouped into baskets, without Dagster (for the model benchmarks)."""
    lines = [parse_week_file(p).table for p in sorted(landing.iterdir()) if week_of(p)]
    return baskets_from_lines(pa.concat_tables(lines))


def ingest(storage: StorageResource, instance: dg.DagsterInstance, weeks: list[str]) -> dg.ExecuteInProcessResult:
    """One single-run range backfill of the weekly job over `weeks` (scores skip: no model yet)."""
    defs = dg.Definitions(
        assets=dunnhumby_defs.assets,
        asset_checks=dunnhumby_defs.asset_checks,
        jobs=dunnhumby_defs.jobs,
        resources={"storage": storage, "dunnhumby_models": DunnhumbyModelsResource()},
    )
    instance.add_dynamic_partitions(week_partitions.name, weeks)
    tags = {"dagster/asset_partition_range_start": weeks[0], "dagster/asset_partition_range_end": weeks[-1]}
    return defs.resolve_job_def(WEEKLY_JOB_NAME).execute_in_process(instance=instance, tags=tags)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandbox-weeks", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        storage = StorageResource(root_uri=f"{tmp}/root")
        landing = storage.landing_path(LANDING_SOURCE)
        weeks, source = land_weeks(landing, args.sandbox_weeks)
        files = sorted(p for p in landing.iterdir() if week_of(p))
        print(f"{len(weeks)} weeks from {source}")

        started = time.perf_counter()
        rows = sum(len(pd.read_csv(p, dtype=str, keep_default_na=False)) for p in files)
        baseline = time.perf_counter() - started

        started = time.perf_counter()
        parsed = [parse_week_file(p) for p in files]
        parse = time.perf_counter() - started
        kept = sum(p.table.num_rows for p in parsed)
        rejected = sum(len(p.rejects) for p in parsed)

        with dg.DagsterInstance.ephemeral() as instance:
            started = time.perf_counter()
            ingest(storage, instance, weeks)
            end_to_end = time.perf_counter() - started
            count = TRANSACTIONS.store(storage).count()
            started = time.perf_counter()
            ingest(storage, instance, weeks)
            rerun = time.perf_counter() - started
            assert TRANSACTIONS.store(storage).count() == count, "a re-run changed the row count"
            baskets = BASKETS.store(storage).count()

        print(f"rows read {rows:,}; kept {kept:,}; quarantined {rejected:,}; Delta rows {count:,}; baskets {baskets:,}")
        print(f"{'step':<44}{'seconds':>9}{'x baseline':>12}")
        for name, seconds in (
            ("baseline: pandas read_csv (strings only)", baseline),
            ("ours: parse_week_file (typed + validated)", parse),
            ("ours: weekly job, one range run (Dagster)", end_to_end),
            ("ours: same range run again (idempotent)", rerun),
        ):
            print(f"{name:<44}{seconds:>9.2f}{seconds / baseline:>12.2f}")


if __name__ == "__main__":
    main()
