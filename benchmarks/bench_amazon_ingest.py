"""Amazon reviews ingestion: Storefront against the seed (pandas) and the libraries a user would pick, same file.

    .venv/bin/python benchmarks/bench_amazon_ingest.py                 # a 256 MB generated file (what `make bench` runs)
    .venv/bin/python benchmarks/bench_amazon_ingest.py --mb 1100       # the >= 1 GB comparison in the README
    .venv/bin/python benchmarks/bench_amazon_ingest.py --only storefront,duckdb --repeat 5

Every approach reads the same generated reviews file with an explicit schema and writes a Delta table partitioned
by category, in its own process (so peak RSS is its own), `--repeat` times, in alternating order (first run
forwards, second backwards, ...) because the machine is shared; each measure's median is shown:

- Storefront: `scrapers.amazon.ingest.ingest_file`, the strict streaming ingestion (every bad line quarantined
  with its line number, byte offset and reason; nothing coerced; source_file/source_line columns; flat memory).
- pyarrow: `pyarrow.json.read_json(explicit_schema=...)` on the whole file + `deltalake.write_deltalake`.
- DuckDB: `read_json(columns=...)` -> Arrow record batches -> `write_deltalake` (streams, but coerces: 1.5 in a
  BIGINT becomes 2, `true` becomes 1).
- polars: `read_ndjson(schema=...)` + `write_delta`, and `scan_ndjson(schema=...)` + `sink_delta` (streaming).
- pandas: `read_json(lines=True)` (the seed, DeepCart's loader) and the same with `engine="pyarrow"`, then
  `write_deltalake`. pandas holds ~7.5x the file in memory; it is skipped, with a note, where that does not fit.

The peers write the stored column types (rating float32, timestamp in ms, helpful_vote int32) plus the category;
only Storefront adds source_file and source_line. Prints MB/s, MB per CPU-second (robust when other work shares
the machine), peak RSS, and each approach's ratios to Storefront, then Storefront against the seed and against the
fastest peer.
"""

from __future__ import annotations

import argparse
import json
import os
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


def _category(path: Path) -> str:
    return path.name.split(".")[0]


def _timed(work: Callable[[], int]) -> dict:
    cpu, started = cpu_seconds(), time.perf_counter()
    rows = work()
    return {"seconds": time.perf_counter() - started, "cpu_seconds": cpu_seconds() - cpu, "rows": rows}


def work_storefront(path: Path, out: Path) -> dict:
    from assets.amazon.tables import REVIEWS
    from foundation.resources import StorageResource
    from scrapers.amazon.ingest import ingest_file

    storage = StorageResource(root_uri=str(out))
    category = _category(path)

    def work() -> int:
        quarantine = storage.quarantine("amazon_reviews", category)
        result, _stats = ingest_file(REVIEWS.store(storage), quarantine, path, "reviews", category)
        quarantine.commit("bench")
        return result.rows_written

    return _timed(work)


# -- peers: what a data engineer would write with each library, with an explicit schema --------------------------


def _peer_schema():
    """The stored review columns without Storefront's provenance columns (source_file, source_line)."""
    import pyarrow as pa

    from scrapers.amazon.jsonl import REVIEW_SCHEMA

    return pa.schema([f for f in REVIEW_SCHEMA if f.name not in ("source_file", "source_line")])


def _as_stored(table, category: str, schema):
    """A parsed table (the line's fields) with the category and the stored types, in the stored column order."""
    import pyarrow as pa

    table = table.append_column("category", pa.array([category] * table.num_rows, pa.string()))
    return table.select(schema.names).cast(schema)


def _write_delta(out: Path, data) -> None:
    """delta-rs with its defaults, as a user would call it (the data carries the explicit schema)."""
    from deltalake import write_deltalake

    write_deltalake(str(out / "reviews"), data, mode="overwrite", partition_by=["category"])


def work_pyarrow(path: Path, out: Path) -> dict:
    import pyarrow.json as pa_json

    from scrapers.amazon.jsonl import REVIEW_LINE_SCHEMA

    schema = _peer_schema()
    parse = pa_json.ParseOptions(explicit_schema=REVIEW_LINE_SCHEMA, unexpected_field_behavior="ignore")

    def work() -> int:
        table = _as_stored(pa_json.read_json(path, parse_options=parse), _category(path), schema)
        _write_delta(out, table)
        return table.num_rows

    return _timed(work)


DUCKDB_COLUMNS = (
    "{rating: 'DOUBLE', title: 'VARCHAR', text: 'VARCHAR', images: 'STRUCT(small_image_url VARCHAR, "
    "medium_image_url VARCHAR, large_image_url VARCHAR, attachment_type VARCHAR)[]', asin: 'VARCHAR', "
    "parent_asin: 'VARCHAR', user_id: 'VARCHAR', timestamp: 'BIGINT', helpful_vote: 'BIGINT', "
    "verified_purchase: 'BOOLEAN'}"
)


def work_duckdb(path: Path, out: Path) -> dict:
    import duckdb
    import pyarrow as pa

    schema = _peer_schema()
    rows = [0]

    def work() -> int:
        query = duckdb.sql(
            f"SELECT $category AS category, user_id, asin, parent_asin, rating::FLOAT AS rating, title, text, "
            f"images, make_timestamp_ms(timestamp) AS timestamp, helpful_vote::INTEGER AS helpful_vote, "
            f"verified_purchase FROM read_json($path, format='newline_delimited', columns={DUCKDB_COLUMNS})",
            params={"category": _category(path), "path": str(path)},
        )

        def batches():
            for batch in query.to_arrow_reader(128 * 1024):
                rows[0] += batch.num_rows
                yield pa.Table.from_batches([batch]).cast(schema).to_batches()[0] if batch.num_rows else batch

        _write_delta(out, pa.RecordBatchReader.from_batches(schema, batches()))
        return rows[0]

    return _timed(work)


def _polars_schema():
    import polars as pl

    image = pl.Struct(
        {"small_image_url": pl.String, "medium_image_url": pl.String, "large_image_url": pl.String,
         "attachment_type": pl.String}
    )  # fmt: skip
    return {
        "rating": pl.Float64, "title": pl.String, "text": pl.String, "images": pl.List(image), "asin": pl.String,
        "parent_asin": pl.String, "user_id": pl.String, "timestamp": pl.Int64, "helpful_vote": pl.Int64,
        "verified_purchase": pl.Boolean,
    }  # fmt: skip


def _polars_stored(frame, category: str):
    import polars as pl

    return frame.select(
        pl.lit(category).alias("category"), "user_id", "asin", "parent_asin", pl.col("rating").cast(pl.Float32),
        "title", "text", "images", pl.from_epoch("timestamp", time_unit="ms").dt.replace_time_zone("UTC"),
        pl.col("helpful_vote").cast(pl.Int32), "verified_purchase",
    )  # fmt: skip


def work_polars(path: Path, out: Path) -> dict:
    import polars as pl

    def work() -> int:
        frame = _polars_stored(pl.read_ndjson(path, schema=_polars_schema()), _category(path))
        frame.write_delta(out / "reviews", mode="overwrite", delta_write_options={"partition_by": ["category"]})
        return frame.height

    return _timed(work)


def work_polars_lazy(path: Path, out: Path) -> dict:
    import polars as pl
    from deltalake import DeltaTable

    def work() -> int:
        lazy = _polars_stored(pl.scan_ndjson(path, schema=_polars_schema()), _category(path))
        lazy.sink_delta(out / "reviews", mode="overwrite", delta_write_options={"partition_by": ["category"]})
        return DeltaTable(str(out / "reviews")).to_pyarrow_dataset().count_rows()

    return _timed(work)


_PANDAS_DTYPES = {
    "rating": "float64", "title": "object", "text": "object", "asin": "object", "parent_asin": "object",
    "user_id": "object", "timestamp": "int64", "helpful_vote": "int64", "verified_purchase": "bool",
}  # fmt: skip


def work_pandas(path: Path, out: Path) -> dict:
    import pandas as pd
    import pyarrow as pa

    schema = _peer_schema()

    def work() -> int:
        # The seed's loader, with the types spelled out (and no guessing of dates from column names).
        frame = pd.read_json(path, lines=True, dtype=_PANDAS_DTYPES, convert_dates=False)
        table = _as_stored(pa.Table.from_pandas(frame, preserve_index=False), _category(path), schema)
        del frame
        _write_delta(out, table)
        return table.num_rows

    return _timed(work)


def work_pandas_pyarrow(path: Path, out: Path) -> dict:
    import pandas as pd
    import pyarrow as pa

    schema = _peer_schema()

    def work() -> int:
        # pandas' pyarrow engine takes no dtype: Arrow infers the types, cast to the stored ones after.
        frame = pd.read_json(path, lines=True, engine="pyarrow", dtype_backend="pyarrow")
        table = _as_stored(pa.Table.from_pandas(frame, preserve_index=False), _category(path), schema)
        del frame
        _write_delta(out, table)
        return table.num_rows

    return _timed(work)


APPROACHES: dict[str, tuple[str, Callable[[Path, Path], dict]]] = {
    "storefront": ("Storefront streaming ingestion", work_storefront),
    "pyarrow": ("pyarrow json.read_json + write_deltalake", work_pyarrow),
    "duckdb": ("DuckDB read_json -> Arrow batches -> write_deltalake", work_duckdb),
    "polars": ("polars read_ndjson + write_delta", work_polars),
    "polars_lazy": ("polars scan_ndjson + sink_delta", work_polars_lazy),
    "pandas": ("pandas read_json(lines=True) (the seed)", work_pandas),
    "pandas_pyarrow": ('pandas read_json(engine="pyarrow")', work_pandas_pyarrow),
}
SEED = "pandas"
# pandas (either engine) holds about this many times the file in memory.
PANDAS_MEMORY_FACTOR = 7.6


def _worker(args: argparse.Namespace) -> None:
    work = APPROACHES[args.worker][1]
    with tempfile.TemporaryDirectory(dir=args.scratch) as out:
        result = work(Path(args.file), Path(out))
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def _run(kind: str, path: Path, scratch: Path) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--file", str(path), "--scratch", str(scratch)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} on {path.name} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["mb"] = path.stat().st_size / 1e6
    result["mb_per_s"] = result["mb"] / result["seconds"]
    result["mb_per_cpu_s"] = result["mb"] / result["cpu_seconds"]
    return result


def _median(results: list[dict]) -> dict:
    """Each measure's median over the runs (wall time and CPU time vary apart on a shared machine: the run with
    the median wall time often had an unusual CPU time), and the highest peak RSS (memory is a limit, not a rate)."""
    summary = dict(results[0])
    for key in ("seconds", "mb_per_s", "cpu_seconds", "mb_per_cpu_s"):
        summary[key] = statistics.median(r[key] for r in results)
    summary["peak_rss_mb"] = max(r["peak_rss_mb"] for r in results)
    return summary


def _available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _generated_file(scratch: Path, megabytes: int) -> Path:
    """A clean generated reviews file of about `megabytes` MB (no bad lines: pandas stops at the first one)."""
    from sandbox.amazon import generate, spec_for_size

    spec = spec_for_size(int(megabytes * 1e6))
    spec = type(spec)(**{**spec.__dict__, "bad_reviews_per_kind": 0, "bad_items_per_kind": 0})
    folder = scratch / f"{spec.category}_{spec.n_users}users_seed{spec.seed}"
    path = folder / f"{spec.category}.jsonl"
    if not path.exists():
        started = time.perf_counter()
        generate(folder, spec)
        print(f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.0f}s")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=256, help="size of the generated reviews file in MB (>= 1000: 1 GB)")
    parser.add_argument("--file", help="an existing clean reviews file instead of a generated one")
    parser.add_argument("--repeat", type=int, default=3, help="runs of every approach, in alternating order")
    parser.add_argument("--only", default=",".join(APPROACHES), help=f"comma-separated subset of {list(APPROACHES)}")
    parser.add_argument("--scratch", default=os.environ.get("STOREFRONT_BENCH_DIR", "/tmp/storefront_bench_amazon"))
    parser.add_argument("--keep", action="store_true", help="keep the generated file (deleted by default)")
    parser.add_argument("--worker", choices=list(APPROACHES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args)
        return

    scratch = Path(args.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    path = Path(args.file) if args.file else _generated_file(scratch, args.mb)
    try:
        _compare(path, scratch, [k for k in args.only.split(",") if k], args.repeat)
    finally:
        if not args.file and not args.keep:
            for file in path.parent.iterdir():
                file.unlink()
            path.parent.rmdir()


def _compare(path: Path, scratch: Path, kinds: list[str], repeat: int) -> None:
    mb = path.stat().st_size / 1e6
    need_mb = PANDAS_MEMORY_FACTOR * mb
    if need_mb > 0.8 * _available_mb():
        skipped = [k for k in kinds if k.startswith("pandas")]
        kinds = [k for k in kinds if k not in skipped]
        print(f"{', '.join(skipped)} skipped: needs ~{need_mb / 1e3:.1f} GB, {_available_mb() / 1e3:.1f} GB available")
    runs: dict[str, list[dict]] = {k: [] for k in kinds}
    for attempt in range(repeat):
        for kind in kinds if attempt % 2 == 0 else kinds[::-1]:
            runs[kind].append(_run(kind, path, scratch))
            r = runs[kind][-1]
            print(
                f"run {attempt + 1} {kind:15} {r['mb_per_s']:6.1f} MB/s {r['mb_per_cpu_s']:6.1f} MB/CPU-s "
                f"{r['peak_rss_mb']:6.0f} MB RSS",
                flush=True,
            )
    best = {k: _median(v) for k, v in runs.items()}
    ours = best.get("storefront")
    print(
        f"\n{path.name}: {mb:.0f} MB, median of {repeat} run(s) each (per measure; peak RSS: the highest), alternating order"
    )
    header = ("approach", "rows", "wall s", "MB/s", "CPU s", "MB/CPU-s", "peak RSS MB", "x MB/s", "x MB/CPU-s")
    print("{:55} {:>11} {:>7} {:>7} {:>7} {:>9} {:>11} {:>7} {:>10}".format(*header))
    for kind, r in best.items():
        ratio = (
            f"{r['mb_per_s'] / ours['mb_per_s']:7.2f} {r['mb_per_cpu_s'] / ours['mb_per_cpu_s']:10.2f}" if ours else ""
        )
        print(
            f"{APPROACHES[kind][0]:55} {r['rows']:11,} {r['seconds']:7.1f} {r['mb_per_s']:7.1f} "
            f"{r['cpu_seconds']:7.1f} {r['mb_per_cpu_s']:9.1f} {r['peak_rss_mb']:11.0f} {ratio}"
        )
    print("(x: each approach's ratio to Storefront; below 1 means Storefront is faster)\n")
    if not ours:
        return
    if len({r["rows"] for r in best.values()}) > 1:
        print("WARNING: the approaches wrote different row counts:", {k: r["rows"] for k, r in best.items()})
    if SEED in best:
        seed = best[SEED]
        print(
            f"Storefront vs the seed (pandas): {ours['mb_per_s'] / seed['mb_per_s']:.1f}x MB/s, "
            f"{ours['mb_per_cpu_s'] / seed['mb_per_cpu_s']:.1f}x MB/CPU-s, "
            f"{ours['peak_rss_mb']:.0f} vs {seed['peak_rss_mb']:.0f} MB peak RSS"
        )
    peers = {k: r for k, r in best.items() if k != "storefront"}
    if peers:
        fastest = max(peers, key=lambda k: peers[k]["mb_per_s"])
        leanest = max(peers, key=lambda k: peers[k]["mb_per_cpu_s"])
        print(
            f"Storefront vs the fastest peer ({fastest}): {ours['mb_per_s'] / peers[fastest]['mb_per_s']:.2f}x MB/s; "
            f"vs the most CPU-efficient ({leanest}): "
            f"{ours['mb_per_cpu_s'] / peers[leanest]['mb_per_cpu_s']:.2f}x MB/CPU-s (target >= 1.0 for both)"
        )
    print(f"Storefront peak RSS: {ours['peak_rss_mb']:.0f} MB (target < 1024 MB)")


if __name__ == "__main__":
    main()
