"""Next-basket models on a temporal split by shop week: the champion chosen on validation weeks, test metrics with
bootstrap 95% intervals over baskets, and the repeat/explore breakdown (Li et al. 2023).

Candidates: G-TopFreq, P-TopFreq, GP-TopFreq (baselines), TIFU-KNN (Hu et al. 2020, tuned on validation) and the
repeat/explore network (`models/dunnhumby/repeat_explore.py`), all through `select_next_basket`, the code the
`dunnhumby_next_basket_model` asset runs. `implicit`'s ALS, the peer library a user would pick, is one more
candidate at two settings (fitted on the training weeks; each customer's factors re-solved from their baskets at
query time); `--bilstm PRESET` adds the original embedding + BiLSTM + attention model (trained on the training
weeks' histories). Neither can be served. Printed: the comparison table (markdown, ready for docs/dunnhumby.md),
each candidate's NDCG@10 as a ratio of GP-TopFreq's, the champion's paired difference to the strongest baseline,
and the time of each step.

Uses the 44 real weeks in ../shared/data/dunnhumby when present, else sandbox weeks.
Run: .venv/bin/python benchmarks/bench_dunnhumby_next_basket.py [--preset tiny|cpu|gpu] [--bilstm small-repeat]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dunnhumby_ingest import land_weeks, load_baskets  # noqa: E402

from models.dunnhumby.basket_log import BasketLog  # noqa: E402
from models.dunnhumby.next_basket_selection import SelectionConfig, select_next_basket  # noqa: E402


def history_lists(log: BasketLog, rows: np.ndarray) -> list[list[list[str]]]:
    """Each row's baskets, oldest first, as product codes (the BiLSTM's input format)."""
    order = np.lexsort((-log.position, log.basket_customer))
    by_customer: dict[int, list[list[str]]] = {}
    for b in order:
        items = log.items.indices[log.items.indptr[b] : log.items.indptr[b + 1]]
        by_customer.setdefault(int(log.basket_customer[b]), []).append([log.products[i] for i in items])
    return [by_customer.get(int(r), []) for r in rows]


def bilstm_candidate(log: BasketLog, first_validation_week: str, preset: str):
    """The original model trained on the training weeks only, as a scorer over the log's products."""
    from models.dunnhumby.next_basket import NextBasketConfig, NextBasketModel

    train = log.before(first_validation_week)
    rows = np.flatnonzero(train.length >= 2)
    model = NextBasketModel.train(history_lists(train, rows), NextBasketConfig.preset(preset))
    index = {p: i for i, p in enumerate(log.products)}
    columns = np.array([index[p] for p in model.dictionary.products])

    def scores(history: BasketLog, query_rows: np.ndarray) -> np.ndarray:
        out = np.full((query_rows.size, len(history.products)), -1.0)
        out[:, columns] = model.scores(history_lists(history, query_rows))
        return out

    return scores


ALS_SETTINGS = [(64, 1.0), (64, 10.0)]


def implicit_als_candidate(log: BasketLog, first_validation_week: str, factors: int, regularization: float):
    """The peer library a user would pick: `implicit`'s ALS on the training weeks' customer x product counts; at
    query time each customer's factors are solved again from all their baskets so far (no refit)."""
    from implicit.cpu.als import AlternatingLeastSquares

    model = AlternatingLeastSquares(factors=factors, regularization=regularization, iterations=15, random_state=0)
    model.fit(log.before(first_validation_week).counts().astype(np.float32), show_progress=False)

    def scores(history: BasketLog, query_rows: np.ndarray) -> np.ndarray:
        user_factors = model.recalculate_user(query_rows, history.counts()[query_rows].astype(np.float32))
        return user_factors @ model.item_factors.T

    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu", choices=["tiny", "cpu", "gpu"])
    parser.add_argument("--bilstm", default="", help="also compare the original model with this preset (small-repeat)")
    parser.add_argument("--json", type=Path, help="write the full report here")
    args = parser.parse_args()
    config = SelectionConfig.preset(args.preset)

    with tempfile.TemporaryDirectory() as tmp:
        weeks, source = land_weeks(Path(tmp))
        started = time.perf_counter()
        log = BasketLog.from_baskets(load_baskets(Path(tmp)))
    print(f"{len(weeks)} weeks from {source}; {len(log.customers)} customers, {len(log.products)} products; "
          f"loaded in {time.perf_counter() - started:.0f}s; preset {args.preset}")  # fmt: skip

    from models.dunnhumby.next_basket_evaluation import WeekSplit

    first_validation = WeekSplit.last_weeks(log.weeks, config.validation_weeks, config.test_weeks).validation[0]
    extra = {}
    for factors, regularization in ALS_SETTINGS:  # the peer; the validation column shows which setting it would take
        started = time.perf_counter()
        name = f"implicit ALS (f={factors}, reg={regularization}; peer)"
        extra[name] = implicit_als_candidate(log, first_validation, factors, regularization)
        print(f"{name} fitted in {time.perf_counter() - started:.0f}s")
    if args.bilstm:
        started = time.perf_counter()
        extra[f"BiLSTM ({args.bilstm})"] = bilstm_candidate(log, first_validation, args.bilstm)
        print(f"BiLSTM {args.bilstm} trained in {time.perf_counter() - started:.0f}s")
    started = time.perf_counter()
    run = select_next_basket(log, config, extra_candidates=extra)
    total = time.perf_counter() - started
    k = config.top_k
    print(run.markdown())
    reference = run.comparison.test["GP-TopFreq"][f"ndcg@{k}"].mean
    for name, metrics in run.comparison.test.items():
        print(f"{name:<26} test NDCG@{k} x GP-TopFreq = {metrics[f'ndcg@{k}'].mean / reference:.3f}")
    c = run.comparison
    print(f"champion {c.champion} (baseline: {c.champion_is_baseline}), runner-up {c.runner_up}, "
          f"best baseline {c.best_baseline}; champion - best baseline, test NDCG@{k} (paired): "
          f"{c.champion_vs_best_baseline}")  # fmt: skip
    print(f"TIFU-KNN chosen: {run.tifu}; steps (s): {run.seconds}; selection total {total:.0f}s")
    if args.json:
        args.json.write_text(json.dumps(run.report(), indent=2))


if __name__ == "__main__":
    main()
