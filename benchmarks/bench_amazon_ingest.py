"""Amazon reviews ingestion: streaming Arrow -> Delta against the original pandas approach, same files.

    .venv/bin/python benchmarks/bench_amazon_ingest.py                          # 2 GB file; 256 MB, 1 GB prefixes
    .venv/bin/python benchmarks/bench_amazon_ingest.py --size-gb 0.3 --sizes-mb ""   # one 0.3 GB file

The original (DeepCart) loaded the reviews with `pandas.read_json(lines=True)` and wrote Parquet with
`to_parquet`. Both approaches run on the same files: prefixes of the generated file (256 MB and 1 GB by default)
and the whole file. pandas holds ~7.5x the file in memory (the 22 GB Electronics file cannot be loaded that way),
so it is skipped, with a note, on any file that would not fit comfortably in the available memory; the streaming
ingestion's peak memory stays flat as the files grow. Each run is its own process, so peak RSS is its own.
Prints MB/s, CPU-seconds, peak RSS and the ratios per file.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _cpu_seconds() -> float:
    """CPU time of all threads of this process: robust when other work shares the machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    """This process's own high-water RSS. Not ru_maxrss: that survives exec, so a child reports its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def work_streaming(path: Path, out: Path) -> dict:
    from assets.amazon.tables import REVIEWS
    from foundation.resources import StorageResource
    from scrapers.amazon.ingest import ingest_file

    storage = StorageResource(root_uri=str(out))
    category = path.name.split(".")[0]
    cpu, started = _cpu_seconds(), time.perf_counter()
    quarantine = storage.quarantine("amazon_reviews", category)
    result, stats = ingest_file(REVIEWS.store(storage), quarantine, path, "reviews", category)
    quarantine.commit("bench")
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "rows": result.rows_written, "rejected": quarantine.count}


def work_pandas(path: Path, out: Path) -> dict:
    import pandas as pd
    import pyarrow.parquet  # noqa: F401  (to_parquet's engine, imported outside the timing like the other side)

    cpu, started = _cpu_seconds(), time.perf_counter()
    frame = pd.read_json(path, lines=True)
    frame.to_parquet(out / "reviews.parquet")
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "rows": len(frame), "rejected": 0}


def _worker(args: argparse.Namespace) -> None:
    work = work_streaming if args.worker == "streaming" else work_pandas
    with tempfile.TemporaryDirectory(dir=args.scratch) as out:
        result = work(Path(args.file), Path(out))
    result["peak_rss_mb"] = _peak_rss_mb()
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
    """The run with the median wall time (its own CPU time and peak RSS, not a mix of runs)."""
    return sorted(results, key=lambda r: r["seconds"])[len(results) // 2]


def _prefix(path: Path, megabytes: int) -> Path:
    """The first `megabytes` of `path`, cut after a whole line, copied in small blocks."""
    target = path.with_name(f"{path.stem}_first{megabytes}MB.jsonl")
    if not target.exists():
        left = megabytes << 20
        with open(path, "rb") as src, open(target.with_suffix(".tmp"), "wb") as dst:
            while left > 0:
                block = src.read(min(left, 8 << 20))
                left -= len(block)
                if left <= 0 or not block:
                    block = block[: block.rfind(b"\n") + 1]
                dst.write(block)
                if not block:
                    break
        target.with_suffix(".tmp").replace(target)
    return target


def _available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-gb", type=float, default=2.0, help="size of the generated reviews file")
    parser.add_argument("--sizes-mb", default="256,1024", help="prefixes compared like for like, before the whole file")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs on the first prefix; medians shown")
    parser.add_argument("--scratch", default=os.environ.get("STOREFRONT_BENCH_DIR", "/tmp/storefront_bench_amazon"))
    parser.add_argument("--worker", choices=["streaming", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args)
        return

    from sandbox.amazon import generate, spec_for_size

    scratch = Path(args.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    # No bad lines in the benchmark file: pandas stops at the first one (the original trimmed with jq first).
    spec = spec_for_size(int(args.size_gb * 1e9))
    spec = type(spec)(**{**spec.__dict__, "bad_reviews_per_kind": 0, "bad_items_per_kind": 0})
    folder = scratch / f"{spec.category}_{spec.n_users}users_seed{spec.seed}"
    path = folder / f"{spec.category}.jsonl"
    if not path.exists():
        started = time.perf_counter()
        generate(folder, spec)
        print(f"generated {path} ({path.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - started:.0f}s")
    sizes = [int(mb) for mb in args.sizes_mb.split(",") if mb and int(mb) << 20 < path.stat().st_size]
    files = [_prefix(path, mb) for mb in sizes] + [path]

    # Alternate the two approaches `--repeat` times per file and keep each one's median run (the machine is shared,
    # so single runs swing with whatever else is running); pandas runs once on the larger files.
    pairs: list[tuple[Path, dict | None, dict]] = []
    for i, file in enumerate(files):
        runs: dict[str, list[dict]] = {"pandas": [], "streaming": []}
        # pandas holds ~7.5x the file in memory: run it only where that fits comfortably.
        need_mb = 7.6 * file.stat().st_size / 1e6
        fits = need_mb < 0.8 * _available_mb()
        for attempt in range(args.repeat):
            for kind in runs:
                if kind == "pandas" and (not fits or (i > 0 and attempt > 0)):
                    continue  # pandas takes minutes on the larger files: once there, against a median of ours
                runs[kind].append(_run(kind, file, scratch))
                r = runs[kind][-1]
                print(
                    f"run {attempt + 1} {kind:9} {r['mb']:6.0f} MB {r['mb_per_s']:6.1f} MB/s {r['peak_rss_mb']:6.0f} MB RSS"
                )
        if not fits:
            print(
                f"pandas skipped on {file.name}: needs ~{need_mb / 1e3:.1f} GB, {_available_mb() / 1e3:.1f} GB available"
            )
        pairs.append((file, _median(runs["pandas"]) if runs["pandas"] else None, _median(runs["streaming"])))

    header = (
        "approach",
        "file MB",
        "rows",
        "wall s",
        "MB/s",
        "CPU s",
        "MB/CPU-s",
        "peak RSS MB",
        "x MB/s",
        "x MB/CPU-s",
    )
    print("\n{:30} {:>8} {:>11} {:>7} {:>7} {:>7} {:>9} {:>11} {:>7} {:>10}".format(*header))
    for _file, base, ours in pairs:
        for name, r in (("pandas read_json + to_parquet", base), ("streaming Arrow -> Delta", ours)):
            if r is None:
                continue
            ratio = (
                f"{r['mb_per_s'] / base['mb_per_s']:7.1f} {r['mb_per_cpu_s'] / base['mb_per_cpu_s']:10.1f}"
                if base
                else ""
            )
            print(
                f"{name:30} {r['mb']:8.0f} {r['rows']:11,} {r['seconds']:7.1f} {r['mb_per_s']:7.1f} "
                f"{r['cpu_seconds']:7.1f} {r['mb_per_cpu_s']:9.1f} {r['peak_rss_mb']:11.0f} {ratio}"
            )
    print()
    for file, base, ours in pairs:
        if base:
            print(
                f"{file.name}: streaming {ours['mb_per_s'] / base['mb_per_s']:.1f}x pandas' MB/s "
                f"({ours['mb_per_cpu_s'] / base['mb_per_cpu_s']:.1f}x per CPU-second; target >= 10x)"
            )
    full = pairs[-1][2]
    print(f"peak RSS on the {full['mb'] / 1e3:.1f} GB file: {full['peak_rss_mb']:.0f} MB (target < 1024 MB)")
    if len(pairs) > 1:
        first = pairs[0][2]
        print(
            f"streaming peak RSS, whole file vs first prefix: {full['peak_rss_mb'] / first['peak_rss_mb']:.2f}x "
            f"for {full['mb'] / first['mb']:.0f}x the data"
        )


if __name__ == "__main__":
    main()
