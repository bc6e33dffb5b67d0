"""Customer dedup: splink (the engine of `customer_entities`) against the hand-written baseline.

Both engines link the same generated records at 10k, 100k and 1M records; printed are pairwise
precision/recall/F1 against the planted truth, seconds, the time ratio splink / baseline, and each
engine's growth factor against its smallest run.

Run: .venv/bin/python benchmarks/bench_retail_dedup.py [--sizes 10000 100000 1000000] [--engines splink baseline]
Near-linear blocking shows as a time ratio close to the record ratio (10x records -> ~10x time),
not the 100x of all-pairs comparison.
"""

from __future__ import annotations

import argparse
import time

from models.retail.dedup import link_records, pairwise_scores
from models.retail.linkage_splink import link_records_splink
from sandbox.retail import generate_customers, linkage_input

ENGINES = {"splink": link_records_splink, "baseline": link_records}
RECORDS_PER_PERSON = 1.6  # the generator's average number of customer records per person


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--engines", nargs="+", choices=list(ENGINES), default=list(ENGINES))
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        customers = generate_customers(int(size / RECORDS_PER_PERSON), seed=1)
        records = linkage_input(customers)
        for engine in args.engines:
            started = time.perf_counter()
            result = ENGINES[engine](records)
            seconds = time.perf_counter() - started
            quality = pairwise_scores(result.entities["entity_id"], customers["PersonID"])
            rows.append(
                {
                    "engine": engine,
                    "records": len(records),
                    "candidate_pairs": result.stats["candidate_pairs"],
                    "pairs_per_record": result.stats["candidate_pairs"] / len(records),
                    "seconds": seconds,
                    "precision": quality["precision"],
                    "recall": quality["recall"],
                    "f1": quality["f1"],
                }
            )
            print(
                f"{engine:>8} {len(records):>9} records  {seconds:7.1f}s  stages {result.stats['seconds']}", flush=True
            )
    first = {engine: next(r for r in rows if r["engine"] == engine) for engine in args.engines}
    seconds_of = {(r["engine"], r["records"]): r["seconds"] for r in rows}
    print("\nengine      records  pairs/record  seconds  vs baseline  record ratio  time ratio  precision  recall  f1")
    for r in rows:
        base = seconds_of.get(("baseline", r["records"]))
        versus = f"{r['seconds'] / base:11.2f}" if base else f"{'-':>11}"
        growth = first[r["engine"]]
        print(
            f"{r['engine']:<8}  {r['records']:>9}  {r['pairs_per_record']:12.2f}  {r['seconds']:7.1f}  {versus}  "
            f"{r['records'] / growth['records']:12.1f}  {r['seconds'] / growth['seconds']:10.1f}  "
            f"{r['precision']:9.4f}  {r['recall']:6.4f}  {r['f1']:.4f}"
        )


if __name__ == "__main__":
    main()
