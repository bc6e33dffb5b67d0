"""Customer dedup cost at 10k, 100k and 1M generated records: growth factor against the 10k run.

Run: .venv/bin/python benchmarks/bench_retail_dedup.py [--sizes 10000 100000 1000000]
Near-linear blocking shows as a time ratio close to the record ratio (10x records -> ~10x time),
not the 100x of all-pairs comparison.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from models.retail_dedup import link_records, pairwise_scores
from sandbox.retail_stores import generate_customers

RECORDS_PER_PERSON = 1.6  # the generator's average number of customer records per person


def linkage_input(customers: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "record_key": customers["StoreID"].astype(str) + ":" + customers["ID"].astype(str),
            "first_name": customers["FirstName"],
            "last_name": customers["LastName"],
            "company": customers["Company"],
            "address": customers["Address"],
            "city": customers["City"],
            "state": customers["State"],
            "zip": customers["Zip"],
            "phone": customers["PhoneNumber"],
            "email": customers["EmailAddress"],
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        customers = generate_customers(int(size / RECORDS_PER_PERSON), seed=1)
        records = linkage_input(customers)
        started = time.perf_counter()
        result = link_records(records)
        seconds = time.perf_counter() - started
        quality = pairwise_scores(result.entities["entity_id"], customers["PersonID"])
        rows.append(
            {
                "records": len(records),
                "candidate_pairs": result.stats["candidate_pairs"],
                "pairs_per_record": result.stats["candidate_pairs"] / len(records),
                "seconds": seconds,
                "precision": quality["precision"],
                "recall": quality["recall"],
                "f1": quality["f1"],
            }
        )
        print(f"{len(records):>9} records  {seconds:7.1f}s  stages {result.stats['seconds']}", flush=True)
    base = rows[0]
    print("\nrecords    pairs/record  seconds  record ratio  time ratio  precision  recall  f1")
    for r in rows:
        print(
            f"{r['records']:>9}  {r['pairs_per_record']:12.2f}  {r['seconds']:7.1f}  "
            f"{r['records'] / base['records']:12.1f}  {r['seconds'] / base['seconds']:10.1f}  "
            f"{r['precision']:9.4f}  {r['recall']:6.4f}  {r['f1']:.4f}"
        )


if __name__ == "__main__":
    main()
