"""Retail retrieval comparison from scratch: two-tower vs most-popular, last-item transition and co-occurrence, on
generated stores and on real purchase sequences, champion chosen on validation, test metrics with 95% intervals.

Run: .venv/bin/python benchmarks/bench_retail_retrieval.py [--data generated real] [--protocol leave_last_out]
     [--preset small] [--epochs N] [--people 5000 --items 1000] [--real-data ../shared/data/dunnhumby]
     [--largest-stores N] [--stores-dir DIR] [--customers N]

generated: the sandbox chain (5,000 people, 1,000 items); customer entities from the record linkage (as in the
pipeline). real: the 44 real dunnhumby weeks written into one store database per STORE_CODE
(`sandbox/retail_real.py`) and read back through the production readers, customers by loyalty number. Both
then go through the pipeline's own code: sequence examples (`split_examples`, per-entity leave-last-out or a
global time cut), the count baselines and the two-tower model trained on the training examples, every candidate
scored on validation, the champion the best by validation NDCG@10 (what the shop would serve), test metrics for
all with percentile-bootstrap 95% intervals over held-out purchases (one per customer), and the champion's paired
margin over the strongest baseline. The baselines are the in-process comparison points, with the peer a user would
pick, implicit's ALS (matrix factorisation of implicit feedback), fitted on the training examples (each example's
context and label items as one row) with each query's context folded in (`recalculate_user`), so it sees exactly
what the count baselines see; it is a reference line, not a pipeline candidate.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from foundation.model_selection import bootstrap_interval  # noqa: E402
from foundation.resources import StorageResource  # noqa: E402
from models.retail.config import TwoTowerConfig, resolve_config  # noqa: E402
from models.retail.dedup import link_records  # noqa: E402
from models.retail.retrieval import (  # noqa: E402
    catalogue_features,
    comparison_markdown,
    per_query,
    train_and_evaluate,
)
from models.retail.sequences import PROTOCOLS, Catalogue, as_arrays, split_examples  # noqa: E402
from sandbox.retail import catalogue_frame, generate_world, linkage_input, transactions_frame  # noqa: E402
from sandbox.retail_real import build_real_store_databases, entity_transactions  # noqa: E402
from scrapers.retail.stores import StoreDatabases, read_catalogue  # noqa: E402

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "dunnhumby"
PEER = "implicit_als"


def item_rows(catalogue: Catalogue, arrays: dict[str, np.ndarray], with_label: bool) -> sp.csr_matrix:
    """One sparse row per example: its context items (and its label), 1 per item bought."""
    columns = [arrays["context_item_id"]] + ([arrays["label_item_id"]] if with_label else [])
    positions = catalogue.positions(np.concatenate(columns, axis=1))
    rows = np.repeat(np.arange(len(positions)), positions.shape[1])
    ok = positions.ravel() >= 0
    matrix = sp.csr_matrix(
        (np.ones(int(ok.sum()), np.float32), (rows[ok], positions.ravel()[ok])), shape=(len(positions), len(catalogue))
    )
    matrix.data[:] = 1.0  # duplicates summed above: bought at all is the signal
    return matrix


def implicit_als(catalogue: Catalogue, train: dict, test: dict, factors: int) -> tuple[dict[str, np.ndarray], float]:
    """Per test query metrics of implicit's ALS and its fit seconds."""
    from implicit.als import AlternatingLeastSquares

    model = AlternatingLeastSquares(factors=factors, regularization=0.05, iterations=15, random_state=0)
    started = time.perf_counter()
    model.fit(item_rows(catalogue, train, with_label=True), show_progress=False)
    seconds = time.perf_counter() - started
    queries = item_rows(catalogue, test, with_label=False)
    ids, scores = model.recommend(
        np.arange(queries.shape[0]),
        queries,
        N=len(catalogue),
        recalculate_user=True,
        filter_already_liked_items=False,
    )
    full = np.full((queries.shape[0], len(catalogue)), -np.inf, dtype=np.float32)
    np.put_along_axis(full, ids, scores, axis=1)
    return per_query(full, catalogue.positions(test["label_item_id"][:, 0])), seconds


def generated(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    world = generate_world(n_people=args.people, n_items=args.items, seed=13)
    linkage = link_records(linkage_input(world.customers))
    entity_of = linkage.entities.set_index("record_key")["entity_id"]
    tx = world.transactions
    keys = tx["StoreID"].astype(str) + ":" + tx["CustomerID"].astype(str)
    frame = transactions_frame(world, tx, keys.map(entity_of).to_numpy())
    about = f"generated: {args.people:,} people, {len(world.customers):,} customer records, {args.items:,} items"
    return frame, catalogue_frame(world), about


def real(args: argparse.Namespace, scratch: Path) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    started = time.perf_counter()
    directory = Path(args.stores_dir) if args.stores_dir else scratch / "stores"
    urls = (
        {p.stem: f"sqlite:///{p}" for p in sorted(directory.glob("store_*.sqlite"))}
        if args.stores_dir and any(directory.glob("store_*.sqlite"))
        else build_real_store_databases(directory, args.real_data, largest_stores=args.largest_stores)
    )
    databases = StoreDatabases(urls)
    quarantine = StorageResource(root_uri=str(scratch / "root")).quarantine("retail_transactions")
    frame = entity_transactions(databases, quarantine)
    catalogue = read_catalogue(databases, quarantine)
    if quarantine.count:
        raise SystemExit(f"the real store databases did not read back cleanly: {quarantine.reasons()}")
    if args.customers:  # a seeded sample of customers (all their purchases), to bound the CPU time
        entities = np.sort(frame["entity_id"].unique())
        keep = np.random.default_rng(1).choice(entities, size=min(args.customers, entities.size), replace=False)
        frame = frame[frame["entity_id"].isin(keep)]
    about = (
        f"real (dunnhumby, 44 weeks): {len(urls):,} store databases, {frame['entity_id'].nunique():,} customers, "
        f"{len(frame):,} purchases, {len(catalogue):,} products ({time.perf_counter() - started:.0f} s to load)"
    )
    return frame, catalogue, about


def evaluate(frame: pd.DataFrame, catalogue: pd.DataFrame, about: str, protocol: str, config: TwoTowerConfig) -> None:
    started = time.perf_counter()
    split = split_examples(frame, protocol)
    arrays = [as_arrays(part) for part in split.parts().values()]
    prepared = time.perf_counter() - started
    run = train_and_evaluate(catalogue_features(catalogue), *arrays, config, settings={"protocol": protocol})
    c = run.comparison
    n = run.examples
    print(
        f"\n## {about}\n\nprotocol {protocol}: {n['train']:,} training examples, {n['validation']:,} validation and "
        f"{n['test']:,} test purchases; examples built in {prepared:.0f} s; two-tower {asdict(config)}, trained in "
        f"{run.train_seconds:.0f} s, final loss {run.history['loss'][-1]}\n"
    )
    print(comparison_markdown(c))
    popular = c.test["most_popular"]["ndcg@10"].mean
    print(
        "\ntest NDCG@10 / most-popular: "
        + ", ".join(f"{m} {c.test[m]['ndcg@10'].mean / popular:.2f}" for m in c.ranking)
    )
    peer, peer_seconds = implicit_als(Catalogue(run.features.item_ids), arrays[0], arrays[2], config.embedding_dim)
    print(
        f"peer {PEER} (reference, not a candidate): test NDCG@10 {bootstrap_interval(peer['ndcg@10'])}, fitted in "
        f"{peer_seconds:.0f} s; two-tower NDCG@10 x{c.test['two_tower']['ndcg@10'].mean / peer['ndcg@10'].mean():.2f} "
        "of it"
    )
    print(
        f"README row: champion {c.champion} {c.test[c.champion]['ndcg@10']}; runner-up {c.runner_up} "
        f"{c.test[c.runner_up]['ndcg@10']}; strongest baseline {c.best_baseline} {c.test[c.best_baseline]['ndcg@10']}; "
        f"champion - baseline {c.champion_vs_best_baseline} (test NDCG@10, 95% CI)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", nargs="+", default=["generated", "real"], choices=["generated", "real"])
    parser.add_argument("--protocol", nargs="+", default=["leave_last_out"], choices=PROTOCOLS)
    parser.add_argument("--preset", default="", help="small | full; empty: by the hardware, as the pipeline")
    parser.add_argument("--epochs", type=int, default=0, help="0: the preset's")
    parser.add_argument("--pooled-context", action="store_true", help="two-tower: add the context's mean embedding")
    parser.add_argument("--time-gaps", action="store_true", help="two-tower: hours between purchases as a feature")
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--real-data", default=str(REAL_DATA))
    parser.add_argument("--largest-stores", type=int, default=None, help="only the N busiest stores (default all)")
    parser.add_argument("--stores-dir", default=None, help="reuse (or keep) the real store databases here")
    parser.add_argument("--customers", type=int, default=0, help="real: a seeded sample of N customers (0: all)")
    args = parser.parse_args()
    config, choice = resolve_config(TwoTowerConfig(preset=args.preset))
    if args.epochs:
        config = replace(config, epochs=args.epochs)
    config = replace(config, pooled_context=args.pooled_context or config.pooled_context)
    config = replace(config, time_gaps=args.time_gaps or config.time_gaps)
    print(f"two-tower preset: {choice.reason}")
    with tempfile.TemporaryDirectory() as tmp:
        for data in args.data:
            frame, catalogue, about = generated(args) if data == "generated" else real(args, Path(tmp))
            for protocol in args.protocol:
                evaluate(frame, catalogue, about, protocol, config)


if __name__ == "__main__":
    main()
