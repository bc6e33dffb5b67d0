"""dunnhumby weekly CSV ingestion into Delta: Storefront against polars, DuckDB and pandas, same files.

Every approach reads the same landed week files (the 44 real weeks in ../shared/data/dunnhumby when present,
else sandbox weeks) and writes one Delta table partitioned by SHOP_WEEK, with the same output columns
(typed, segment codes recoded, IS_ANONYMOUS, SOURCE_FILE, SOURCE_LINE):

1. Storefront: `parse_week_file` per week (every bad line quarantined with its line and reason, nothing coerced,
   unusable files rejected), quarantine commit, `DeltaStore.overwrite` of the weeks' window.
2. polars: `read_csv` with an explicit schema per file, recode, `write_deltalake` (no checks: a bad value raises
   for the whole file).
3. DuckDB: one `read_csv(files, columns=…, dateformat=…)` over all files, recode in SQL, Arrow → `write_deltalake`
   (no checks: DuckDB coerces, e.g. 1.5 into an INTEGER becomes 2).
4. pandas `read_csv` with inferred types (the seed's approach), then the same recode and `write_deltalake`.

Each run is its own process (peak RSS is its own), rounds alternate the approaches (the shared machine's load
drifts) and the median round counts. MB are the uncompressed CSV bytes. Printed: MB/s, MB per CPU-second,
peak RSS and Storefront's ratio to every other approach. Then the end-to-end path: one single-run range
backfill of `dunnhumby_weekly_job` on a temporary Dagster instance (parse + quarantine + Delta + profiling check
+ baskets), and the same backfill again, whose row counts must not change.

Run: .venv/bin/python benchmarks/bench_dunnhumby_ingest.py [--repeats 3] [--sandbox-weeks N] [--no-dagster]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from benchmarks.measure import cpu_seconds, peak_rss_mb  # noqa: E402 (after the path)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pyarrow as pa  # noqa: E402

from foundation.resources import REPO_ROOT  # noqa: E402
from scrapers.dunnhumby.week_files import (  # noqa: E402
    SEG_1_TO_PRICE_SENSITIVITY,
    SEG_2_TO_LIFESTAGE,
    TRANSACTIONS_SCHEMA,
    parse_week_file,
    shop_weeks,
    week_of,
)

REAL_DATA = REPO_ROOT.parent / "shared" / "data" / "dunnhumby"
SEG_RENAME = {"seg_1": "CUST_PRICE_SENSITIVITY", "seg_2": "CUST_LIFESTAGE"}


def land_weeks(landing: Path, sandbox_weeks: int = 20) -> tuple[list[str], str]:
    """Copy the real week files into `landing` (or write sandbox weeks); return the weeks and the source."""
    landing.mkdir(parents=True, exist_ok=True)
    real = sorted(REAL_DATA.glob("transactions_*.csv.gz")) if REAL_DATA.is_dir() else []
    if real:
        for path in real:
            shutil.copy(path, landing / path.name)
        return [week_of(p) for p in real], f"real ({REAL_DATA})"
    from sandbox.dunnhumby import DunnhumbySandbox

    weeks = shop_weeks("200607", sandbox_weeks)
    DunnhumbySandbox(seed=7, n_customers=3000).write_weeks(landing, weeks)
    return weeks, "sandbox"


def load_baskets(landing: Path) -> pa.Table:
    """Every landed week parsed and grouped into baskets, without Dagster (for the model benchmarks)."""
    from models.dunnhumby.baskets import baskets_from_lines

    lines = [parse_week_file(p).table for p in sorted(landing.iterdir()) if week_of(p)]
    return baskets_from_lines(pa.concat_tables(lines))


# --- the approaches, each run in a child process on the same files -------------------------------------------


def work_storefront(files: list[Path], out: Path) -> dict:
    from assets.dunnhumby.partitions import WEEK
    from assets.dunnhumby.tables import LANDING_SOURCE, TRANSACTIONS
    from foundation.resources import StorageResource
    from foundation.storage.delta_tables import Window

    storage = StorageResource(root_uri=str(out))
    cpu, started = cpu_seconds(), time.perf_counter()
    tables, weeks, rejected = [], [], 0
    for path in files:
        week = week_of(path)
        quarantine = storage.quarantine(LANDING_SOURCE, week)
        parsed = parse_week_file(path, week)
        for reject in parsed.rejects:
            quarantine.reject(reject.raw, reject.reason, reject.location)
        quarantine.commit("bench")
        rejected += quarantine.count
        tables.append(parsed.table)
        weeks.append(week)
    result = TRANSACTIONS.store(storage).overwrite(pa.concat_tables(tables), Window.of(WEEK, *weeks))
    return _done(started, cpu, result.rows_written, rejected)


def work_polars(files: list[Path], out: Path) -> dict:
    import polars as pl
    from deltalake import write_deltalake

    cpu, started = cpu_seconds(), time.perf_counter()
    frames = []
    for path in files:
        frame = pl.read_csv(path, schema_overrides=_peer_types(path, POLARS_TYPES))
        frames.append(
            frame.rename(SEG_RENAME, strict=False).with_columns(
                pl.col("SHOP_DATE").cast(pl.String).str.strptime(pl.Date, "%Y%m%d"),
                pl.col("CUST_PRICE_SENSITIVITY").replace(SEG_1_TO_PRICE_SENSITIVITY),
                pl.col("CUST_LIFESTAGE").replace(SEG_2_TO_LIFESTAGE),
                pl.col("CUST_CODE").is_null().alias("IS_ANONYMOUS"),
                pl.lit(path.name).alias("SOURCE_FILE"),
                pl.int_range(2, pl.len() + 2).alias("SOURCE_LINE"),
            )
        )
    table = pl.concat(frames).to_arrow().select(TRANSACTIONS_SCHEMA.names).cast(TRANSACTIONS_SCHEMA)
    write_deltalake(str(out / "transactions"), table, partition_by=["SHOP_WEEK"], mode="overwrite")
    return _done(started, cpu, table.num_rows, 0)


def work_duckdb(files: list[Path], out: Path) -> dict:
    import duckdb
    from deltalake import write_deltalake

    header = _header_of(files[0])
    types = _peer_types(files[0], DUCKDB_TYPES)
    columns = ", ".join(f"'{c}': '{types[c]}'" for c in header)

    def recode(column: str, mapping: dict[str, str]) -> str:
        cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in mapping.items())
        return f"CASE {column} {cases} ELSE {column} END"

    seg = "seg_1" in header
    sens, life = ("seg_1", "seg_2") if seg else ("CUST_PRICE_SENSITIVITY", "CUST_LIFESTAGE")
    others = ", ".join(c for c in header if c not in (sens, life))
    cpu, started = cpu_seconds(), time.perf_counter()
    query = f"""
        SELECT {others},
            {recode(sens, SEG_1_TO_PRICE_SENSITIVITY) if seg else sens} AS CUST_PRICE_SENSITIVITY,
            {recode(life, SEG_2_TO_LIFESTAGE) if seg else life} AS CUST_LIFESTAGE,
            CUST_CODE IS NULL AS IS_ANONYMOUS,
            parse_filename(filename) AS SOURCE_FILE,
            (row_number() OVER (PARTITION BY filename) + 1)::INTEGER AS SOURCE_LINE
        FROM read_csv($files, header = true, columns = {{{columns}}}, dateformat = '%Y%m%d', filename = true)
    """
    table = duckdb.execute(query, {"files": [str(f) for f in files]}).to_arrow_table()
    table = table.select(TRANSACTIONS_SCHEMA.names).cast(TRANSACTIONS_SCHEMA)
    write_deltalake(str(out / "transactions"), table, partition_by=["SHOP_WEEK"], mode="overwrite")
    return _done(started, cpu, table.num_rows, 0)


def work_pandas(files: list[Path], out: Path) -> dict:
    import pandas as pd
    from deltalake import write_deltalake

    cpu, started = cpu_seconds(), time.perf_counter()
    frames = []
    for path in files:
        frame = pd.read_csv(path).rename(columns=SEG_RENAME)
        frame["SHOP_DATE"] = pd.to_datetime(frame["SHOP_DATE"].astype(str), format="%Y%m%d").dt.date
        frame["CUST_PRICE_SENSITIVITY"] = frame["CUST_PRICE_SENSITIVITY"].replace(SEG_1_TO_PRICE_SENSITIVITY)
        frame["CUST_LIFESTAGE"] = frame["CUST_LIFESTAGE"].replace(SEG_2_TO_LIFESTAGE)
        frame["IS_ANONYMOUS"] = frame["CUST_CODE"].isna()
        frame["SOURCE_FILE"] = path.name
        frame["SOURCE_LINE"] = range(2, len(frame) + 2)
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    table = pa.Table.from_pandas(frame, preserve_index=False).select(TRANSACTIONS_SCHEMA.names)
    table = table.cast(TRANSACTIONS_SCHEMA)
    write_deltalake(str(out / "transactions"), table, partition_by=["SHOP_WEEK"], mode="overwrite")
    return _done(started, cpu, table.num_rows, 0)


APPROACHES: dict[str, tuple[str, Callable[[list[Path], Path], dict]]] = {
    "storefront": ("Storefront parse_week_file + quarantine + DeltaStore", work_storefront),
    "duckdb": ("DuckDB read_csv(columns=…) → write_deltalake", work_duckdb),
    "polars": ("polars read_csv(schema) → write_deltalake", work_polars),
    "pandas": ("pandas read_csv (the seed) → write_deltalake", work_pandas),
}
PEER_TYPES = {  # the typed columns; every other column is text
    "SHOP_WEEK": ("String", "VARCHAR"),
    "SHOP_DATE": ("String", "DATE"),  # polars parses it after the read (its CSV reader has no date format option)
    "SHOP_WEEKDAY": ("Int8", "TINYINT"),
    "SHOP_HOUR": ("Int8", "TINYINT"),
    "QUANTITY": ("Int32", "INTEGER"),
    "SPEND": ("Float64", "DOUBLE"),
    "BASKET_ID": ("Int64", "BIGINT"),
}
POLARS_TYPES, DUCKDB_TYPES = 0, 1


def _peer_types(path: Path, engine: int) -> dict:
    import polars as pl

    types = {c: "String" if engine == POLARS_TYPES else "VARCHAR" for c in _header_of(path)}
    types |= {c: pair[engine] for c, pair in PEER_TYPES.items()}
    return {c: getattr(pl, t) for c, t in types.items()} if engine == POLARS_TYPES else types


def _header_of(path: Path) -> list[str]:
    with gzip.open(path, "rt") if path.suffix == ".gz" else open(path) as lines:  # noqa: SIM115
        return lines.readline().strip().split(",")


def _done(started: float, cpu: float, rows: int, rejected: int) -> dict:
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "rows": rows, "rejected": rejected}


def _worker(args: argparse.Namespace) -> None:
    files = sorted(p for p in Path(args.landing).iterdir() if week_of(p))
    with tempfile.TemporaryDirectory(dir=args.scratch) as out:
        result = APPROACHES[args.worker][1](files, Path(out))
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def _run(name: str, landing: Path, scratch: Path) -> dict:
    command = [sys.executable, __file__, "--worker", name, "--landing", str(landing), "--scratch", str(scratch)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
    if done.returncode:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(landing: Path, scratch: Path, repeats: int) -> None:
    """Alternating rounds of every approach in its own process; the median round counts."""
    files = sorted(p for p in landing.iterdir() if week_of(p))
    megabytes = sum(_uncompressed_bytes(p) for p in files) / 1e6  # also warms the page cache for every approach
    runs: dict[str, list[dict]] = {name: [] for name in APPROACHES}
    for _ in range(repeats):
        for name in APPROACHES:
            runs[name].append(_run(name, landing, scratch))
    median = statistics.median
    rows = {
        name: {
            "mb_s": median(megabytes / r["seconds"] for r in results),
            "mb_cpu": median(megabytes / r["cpu_seconds"] for r in results),
            "rss": max(r["peak_rss_mb"] for r in results),
            "spread": (min(megabytes / r["seconds"] for r in results), max(megabytes / r["seconds"] for r in results)),
            "rows": results[-1]["rows"],
            "rejected": results[-1]["rejected"],
        }
        for name, results in runs.items()
    }
    ours = rows["storefront"]
    print(
        f"{len(files)} files, {megabytes:,.0f} MB of CSV (uncompressed); median of {repeats} alternating rounds, "
        f"each run its own process ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})"
    )
    print(
        f"{'approach':<54}{'MB/s':>7}{'[range]':>15}{'MB/CPU-s':>10}{'peak RSS':>10}{'rows':>11}{'quarantined':>12}"
        f"{'ours x MB/s':>13}{'ours x MB/CPU-s':>16}"
    )
    for name, row in rows.items():
        low, high = row["spread"]
        print(
            f"{APPROACHES[name][0]:<54}{row['mb_s']:>7.1f}{f'[{low:.0f}-{high:.0f}]':>15}{row['mb_cpu']:>10.1f}"
            f"{row['rss']:>8.0f}MB{row['rows']:>11,}{row['rejected']:>12,}"
            f"{ours['mb_s'] / row['mb_s']:>13.2f}{ours['mb_cpu'] / row['mb_cpu']:>16.2f}"
        )


def _uncompressed_bytes(path: Path) -> int:
    if path.suffix != ".gz":
        return path.stat().st_size
    with gzip.open(path, "rb") as data:
        return sum(len(chunk) for chunk in iter(lambda: data.read(1 << 20), b""))


# --- end to end: the weekly job on a temporary Dagster instance ---------------------------------------------


def ingest(storage: object, instance: object, weeks: list[str]) -> object:
    """One single-run range backfill of the weekly job over `weeks` (scores skip: no model yet)."""
    import dagster as dg

    from assets.dunnhumby.automation import WEEKLY_JOB_NAME
    from assets.dunnhumby.definitions import defs as dunnhumby_defs
    from assets.dunnhumby.partitions import week_partitions
    from assets.dunnhumby.resources import DunnhumbyModelsResource

    defs = dg.Definitions(
        assets=dunnhumby_defs.assets,
        asset_checks=dunnhumby_defs.asset_checks,
        jobs=dunnhumby_defs.jobs,
        resources={"storage": storage, "dunnhumby_models": DunnhumbyModelsResource()},
    )
    instance.add_dynamic_partitions(week_partitions.name, weeks)
    tags = {"dagster/asset_partition_range_start": weeks[0], "dagster/asset_partition_range_end": weeks[-1]}
    return defs.resolve_job_def(WEEKLY_JOB_NAME).execute_in_process(instance=instance, tags=tags)


def end_to_end(tmp: str, sandbox_weeks: int) -> None:
    import dagster as dg

    from assets.dunnhumby.tables import BASKETS, LANDING_SOURCE, TRANSACTIONS
    from foundation.resources import StorageResource

    storage = StorageResource(root_uri=f"{tmp}/dagster")
    weeks, _ = land_weeks(storage.landing_path(LANDING_SOURCE), sandbox_weeks)
    with dg.DagsterInstance.ephemeral() as instance:
        started = time.perf_counter()
        ingest(storage, instance, weeks)
        first = time.perf_counter() - started
        count = TRANSACTIONS.store(storage).count()
        started = time.perf_counter()
        ingest(storage, instance, weeks)
        rerun = time.perf_counter() - started
        assert TRANSACTIONS.store(storage).count() == count, "a re-run changed the row count"
        baskets = BASKETS.store(storage).count()
    print(
        f"\nweekly job, one range run of {len(weeks)} weeks on Dagster (parse + quarantine + Delta + profiling check "
        f"+ baskets): {first:.1f}s; the same range again {rerun:.1f}s, identical counts ({count:,} lines, "
        f"{baskets:,} baskets)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sandbox-weeks", type=int, default=20)
    parser.add_argument("--no-dagster", action="store_true", help="skip the end-to-end Dagster runs")
    parser.add_argument("--worker", choices=list(APPROACHES), help=argparse.SUPPRESS)
    parser.add_argument("--landing", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        landing = Path(tmp) / "landing"
        weeks, source = land_weeks(landing, args.sandbox_weeks)
        print(f"{len(weeks)} weeks from {source}")
        compare(landing, Path(tmp), args.repeats)
        if not args.no_dagster:
            end_to_end(tmp, args.sandbox_weeks)


if __name__ == "__main__":
    main()
