"""Retrieval evaluation table: two-tower vs most-popular, last-item transition and co-occurrence.

Run: .venv/bin/python benchmarks/bench_retail_retrieval.py [--people 5000 --items 1000 --epochs 8 --embedding-dim 32]
Generated store data; customer entities from the record linkage (as in the pipeline); the last
purchase of each entity is held out; every method ranks the full catalogue.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from foundation.ranking_metrics import single_target_metrics, top_k_by_partition  # noqa: E402
from models.retail_dedup import link_records  # noqa: E402
from models.retail_sequences import (  # noqa: E402
    TOP_K,
    Catalogue,
    as_arrays,
    cooccurrence_scores,
    most_popular_scores,
    split_examples,
    transition_scores,
)
from sandbox.retail_stores import generate_world, linkage_input, transactions_frame  # noqa: E402


def transactions_with(world, entity_of: pd.Series) -> pd.DataFrame:
    tx = world.transactions
    keys = tx["StoreID"].astype(str) + ":" + tx["CustomerID"].astype(str)
    return transactions_frame(world, tx, keys.map(entity_of).to_numpy())


def evaluate(world, entity_of: pd.Series, config) -> dict[str, dict]:
    from models.retail_two_tower import CatalogueFeatures, score_queries, train

    train_examples, test_examples, _ = split_examples(transactions_with(world, entity_of))
    tr, te = as_arrays(train_examples), as_arrays(test_examples)
    items = world.items
    catalogue = Catalogue(items["ID"].to_numpy())
    labels = catalogue.positions(te["label_item_id"][:, 0])
    train_labels = tr["label_item_id"][:, 0]
    results = {
        "most_popular": most_popular_scores(train_labels, catalogue, len(labels)),
        "last_item_transition": transition_scores(
            tr["context_item_id"], train_labels, te["context_item_id"], catalogue
        ),
        "item_cooccurrence": cooccurrence_scores(tr["context_item_id"], train_labels, te["context_item_id"], catalogue),
    }
    results = {
        name: single_target_metrics(top_k_by_partition(np.asarray(scores), TOP_K), labels, digits=4)
        for name, scores in results.items()
    }
    features = CatalogueFeatures(
        items["ID"].to_numpy(np.int64),
        items["DepartmentID"].to_numpy(np.int64),
        items["BinLocation"].to_numpy(object),
        items["FullPrice"].to_numpy(np.float32),
        items["Description"].to_numpy(object),
    )
    started = time.perf_counter()
    query, embeddings, history = train(tr, features, config)
    seconds = time.perf_counter() - started
    top = top_k_by_partition(score_queries(query, embeddings, te), TOP_K)
    results["two_tower"] = single_target_metrics(top, labels, digits=4)
    results["two_tower"]["train_seconds"] = round(seconds, 1)
    results["two_tower"]["final_loss"] = history["loss"][-1]
    return results


def main() -> None:
    from models.retail_two_tower import TwoTowerConfig

    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--embedding-dim", type=int, default=32)
    parser.add_argument("--gru-units", type=int, default=64)
    args = parser.parse_args()
    world = generate_world(n_people=args.people, n_items=args.items, seed=13)
    customers = world.customers
    linkage = link_records(linkage_input(customers))
    entity_of = linkage.entities.set_index("record_key")["entity_id"]
    config = TwoTowerConfig(embedding_dim=args.embedding_dim, gru_units=args.gru_units, epochs=args.epochs)
    results = evaluate(world, entity_of, config)
    base = results["most_popular"]["ndcg@10"]
    print(
        f"{args.people} people, {len(customers)} customer records, {args.items} items, "
        f"{results['two_tower']['examples']} held-out last purchases (full-catalogue ranking)\n"
    )
    print("| method | HitRate@10 | Recall@10 | NDCG@10 | MRR@10 | NDCG ratio vs most-popular |")
    print("|---|---|---|---|---|---|")
    for name, m in results.items():
        print(
            f"| {name} | {m['hit_rate@10']:.4f} | {m['recall@10']:.4f} | {m['ndcg@10']:.4f} | {m['mrr@10']:.4f} "
            f"| {m['ndcg@10'] / base:.2f} |"
        )
    print(
        f"\ntwo-tower training: {results['two_tower']['train_seconds']}s, final loss {results['two_tower']['final_loss']}"
    )


if __name__ == "__main__":
    main()
