"""Next-basket model vs the TopFreq baselines, on the same temporal split, full-catalogue ranking.

Each customer with at least 3 baskets: the last basket is the target, everything before is history (and the
only training data). Printed: Recall/NDCG/PHR@10 over all target items and split into repeat and explore items,
for G-TopFreq, P-TopFreq, GP-TopFreq and the embedding + BiLSTM + attention model, plus each method's
NDCG@10 as a ratio of GP-TopFreq's (the strongest baseline in the literature) and the training time.

Uses the 44 real weeks in ../shared/data/dunnhumby when present, else sandbox weeks.
Run: .venv/bin/python benchmarks/bench_dunnhumby_next_basket.py [--preset full|full-repeat|small|small-repeat|tiny] [--epochs N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dunnhumby_ingest import land_weeks, load_baskets  # noqa: E402

from models.dunnhumby.baskets import customer_sequences  # noqa: E402
from models.dunnhumby.next_basket import (  # noqa: E402
    NextBasketConfig,
    NextBasketModel,
    evaluate,
    results_table,
    temporal_split,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="full", choices=["full", "full-repeat", "small", "small-repeat", "tiny"])
    parser.add_argument("--epochs", type=int, default=0, help="override the preset's epochs")
    args = parser.parse_args()
    config = NextBasketConfig.preset(args.preset)
    config = replace(config, epochs=args.epochs) if args.epochs else config

    with tempfile.TemporaryDirectory() as tmp:
        weeks, source = land_weeks(Path(tmp))
        sequences = customer_sequences(load_baskets(Path(tmp)))
    split = temporal_split(
        dict(zip(sequences["CUST_CODE"].to_pylist(), sequences["BASKETS"].to_pylist(), strict=True)), config.min_baskets
    )
    print(f"{len(weeks)} weeks from {source}; {len(split.customers)} test customers; preset {args.preset}: {config}")

    started = time.perf_counter()
    model = NextBasketModel.train(split.histories, config)
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    results = evaluate(split, config.top_k, model)
    eval_seconds = time.perf_counter() - started
    k = config.top_k
    print(f"catalogue (product dictionary): {len(model.dictionary)} products; loss by epoch {model.history['loss']}")
    print(results_table(results, k))
    reference = results["GP-TopFreq"][f"all/ndcg@{k}"]
    for name, metrics in results.items():
        print(f"{name:<18} NDCG@{k} x GP-TopFreq = {metrics[f'all/ndcg@{k}'] / reference:.3f}")
    customers = {part: int(results["GP-TopFreq"].get(f"{part}/customers", 0)) for part in ("all", "repeat", "explore")}
    print(f"customers per split: {customers}; train {train_seconds:.0f}s, evaluate {eval_seconds:.0f}s")


if __name__ == "__main__":
    main()
