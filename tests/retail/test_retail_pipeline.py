"""End to end: generated SQLite store databases -> Delta -> dedup -> TFRecords -> two-tower model, on real Dagster."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from assets import retail
from foundation.resources import StorageResource
from sandbox import retail_stores as layout

PEOPLE = 400
TINY_TRAINING = {"embedding_dim": 16, "gru_units": 16, "epochs": 2, "batch_size": 128}


def materialize(instance, storage, stores, selection, partition_range=None, run_config=None):
    tags = {}
    if partition_range:
        tags = {
            "dagster/asset_partition_range_start": partition_range[0],
            "dagster/asset_partition_range_end": partition_range[1],
        }
    return dg.materialize(
        [*retail.defs.assets, *retail.defs.asset_checks],
        selection=selection,
        instance=instance,
        resources={"storage": storage, "retail_stores": stores},
        tags=tags,
        run_config=run_config,
    )


def metadata_of(result, key: str) -> dict:
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        if mat.asset_key.to_user_string() == key:
            return {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
    raise KeyError(key)


def checks_of(result) -> dict[str, bool]:
    return {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}


@pytest.fixture
def store_urls(tmp_path: Path) -> dict[str, str]:
    return layout.build_store_databases(tmp_path / "stores", n_stores=3, n_people=PEOPLE, n_items=120, seed=3)


@pytest.mark.slow
def test_pipeline_end_to_end(instance, storage: StorageResource, store_urls: dict[str, str]) -> None:
    stores = retail.RetailStoresResource(store_urls=store_urls)
    instance.add_dynamic_partitions(retail.store_partitions.name, list(store_urls))
    everything = ("store_1", "store_3")

    ingest = materialize(instance, storage, stores, ["store_customers", "store_transactions"], everything)
    assert ingest.success
    customers = storage.delta("retail_store_customers", retail.CUSTOMERS_SCHEMA, ["store_id"])
    first_count = customers.count()
    # Every store database has one planted identity-less customer and two orphan transactions.
    meta = metadata_of(ingest, "store_customers")
    assert [meta[f"{s}/quarantined_rows"] for s in store_urls] == [1, 1, 1]
    meta = metadata_of(ingest, "store_transactions")
    assert [meta[f"{s}/quarantined_rows"] for s in store_urls] == [2, 2, 2]

    # Re-running one store replaces exactly its rows.
    again = materialize(instance, storage, stores, ["store_customers", "store_transactions"], ("store_2", "store_2"))
    assert again.success and customers.count() == first_count

    linkage = materialize(instance, storage, stores, ["retail_catalogue", "customer_entities"])
    assert linkage.success
    assert all(checks_of(linkage).values()), checks_of(linkage)
    quality = metadata_of(linkage, "customer_entities")
    assert quality["pairwise_f1"] >= 0.95
    assert (
        quality["pairwise_true_positive_pairs"] + quality["pairwise_false_negative_pairs"]
        == quality["pairwise_true_pairs"]
    )
    assert quality["candidate_pairs_per_record"] < 10

    merged = materialize(instance, storage, stores, ["retail_transactions"], everything)
    assert merged.success
    tx = storage.delta("retail_transactions", retail.ENTITY_TRANSACTIONS_SCHEMA, ["store_id"]).read().to_pandas()
    # Entities span stores: the deduplication merged purchase histories across databases.
    assert (tx.groupby("entity_id")["store_id"].nunique() > 1).any()

    trained = materialize(
        instance,
        storage,
        stores,
        ["item_item_examples", "two_tower_model"],
        run_config={"ops": {"two_tower_model": {"config": TINY_TRAINING}}},
    )
    assert trained.success
    assert all(checks_of(trained).values()), checks_of(trained)
    examples = metadata_of(trained, "item_item_examples")
    assert examples["test_examples"] > 100 and examples["train_examples"] > examples["test_examples"]
    model = metadata_of(trained, "two_tower_model")
    assert 0 < model["two_tower_hit_rate@10"] <= 1
    model_dir = retail.latest_model_dir(storage)
    assert (model_dir / "query_tower.keras").exists() and (model_dir / "candidates.npz").exists()


@pytest.mark.slow
def test_examples_contain_no_future_items(instance, storage: StorageResource, store_urls: dict[str, str]) -> None:
    stores = retail.RetailStoresResource(store_urls=store_urls)
    instance.add_dynamic_partitions(retail.store_partitions.name, list(store_urls))
    span = ("store_1", "store_3")
    assert materialize(instance, storage, stores, ["store_customers", "store_transactions"], span).success
    assert materialize(instance, storage, stores, ["retail_catalogue", "customer_entities"]).success
    assert materialize(instance, storage, stores, ["retail_transactions"], span).success
    assert materialize(instance, storage, stores, ["item_item_examples"]).success

    train = retail.read_examples(storage.tfrecords_uri(retail.EXAMPLES_DATASET, "train"))
    test = retail.read_examples(storage.tfrecords_uri(retail.EXAMPLES_DATASET, "test"))
    for arrays in (train, test):
        real = arrays["context_item_id"] != 0
        assert (arrays["context_timestamp"][real] <= np.repeat(arrays["label_timestamp"], 10, axis=1)[real]).all()
        # padding is at the end, with 0 / b"" as in the original layout
        assert ((arrays["context_brand_code"] == b"") == ~real).all()
        assert (np.diff(real.astype(int), axis=1) <= 0).all()
    # The held-out example of each entity is its last purchase, later than all of its training labels.
    test_time = pd.Series(test["label_timestamp"][:, 0], index=test["entity_id"][:, 0])
    assert test_time.index.is_unique
    train_time = pd.Series(train["label_timestamp"][:, 0], index=train["entity_id"][:, 0])
    assert (train_time <= test_time.reindex(train_time.index).to_numpy()).all()
    tx = storage.delta("retail_transactions", retail.ENTITY_TRANSACTIONS_SCHEMA, ["store_id"]).read().to_pandas()
    last = tx.groupby("entity_id")["transaction_time"].max().astype("int64") // 1_000_000_000
    assert (last.reindex(test_time.index.astype(str)).to_numpy() == test_time.to_numpy()).all()
