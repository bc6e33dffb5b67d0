"""Retrieval evaluation table: two-tower vs most-popular, last-item transition and co-occurrence.

Run: .venv/bin/python benchmarks/bench_retail_retrieval.py [--people 5000 --items 1000 --epochs 8 --embedding-dim 32]
Generated store data; customer entities from the record linkage (as in the pipeline); the last
purchase of each entity is held out; every method ranks the full catalogue.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pandas as pd  # noqa: E402

from models.retail.dedup import link_records  # noqa: E402
from models.retail.retrieval import catalogue_features, evaluation_table, train_and_evaluate  # noqa: E402
from models.retail.sequences import as_arrays, split_examples  # noqa: E402
from sandbox.retail import catalogue_frame, generate_world, linkage_input, transactions_frame  # noqa: E402


def transactions_with(world, entity_of: pd.Series) -> pd.DataFrame:
    tx = world.transactions
    keys = tx["StoreID"].astype(str) + ":" + tx["CustomerID"].astype(str)
    return transactions_frame(world, tx, keys.map(entity_of).to_numpy())


def evaluate(world, entity_of: pd.Series, config) -> dict[str, dict]:
    """The pipeline's evaluation (models/retail/retrieval.py) on generated stores."""
    train_examples, test_examples, _ = split_examples(transactions_with(world, entity_of))
    features = catalogue_features(catalogue_frame(world))
    run = train_and_evaluate(features, as_arrays(train_examples), as_arrays(test_examples), config)
    results = run.results
    results["two_tower"]["train_seconds"] = round(run.train_seconds, 1)
    results["two_tower"]["final_loss"] = run.history["loss"][-1]
    return results


def main() -> None:
    from models.retail.two_tower import TwoTowerConfig

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
    print(
        f"{args.people} people, {len(customers)} customer records, {args.items} items, "
        f"{results['two_tower']['examples']} held-out last purchases (full-catalogue ranking)\n"
    )
    print(evaluation_table(results, ratio_to="most_popular"))
    print(
        f"\ntwo-tower training: {results['two_tower']['train_seconds']}s, final loss {results['two_tower']['final_loss']}"
    )


if __name__ == "__main__":
    main()
