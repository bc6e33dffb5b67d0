"""End to end: generated SQLite store databases -> Delta -> dedup -> TFRecords -> two-tower model, on real Dagster."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from assets.retail.definitions import defs
from assets.retail.partitions import store_partitions
from assets.retail.resources import RetailStoresResource
from assets.retail.tables import (
    CUSTOMER_ENTITIES,
    ENTITY_TRANSACTIONS,
    ITEM_ITEM_EXAMPLES,
    STORE_CUSTOMERS,
    TWO_TOWER_MODEL,
)
from foundation.hardware import gpu_available
from foundation.resources import StorageResource
from models.retail.sequences import read_examples
from sandbox.retail import build_store_databases, match_quality, planted_truth

PEOPLE = 400
MIN_ENTITY_F1 = 0.95  # pairwise F1 of the linkage against the sandbox's planted duplicates
TINY_TRAINING = {"embedding_dim": 16, "gru_units": 16, "epochs": 2, "batch_size": 128}


def materialize(instance, storage, stores, selection, partition_range=None, run_config=None):
    tags = {}
    if partition_range:
        tags = {
            "dagster/asset_partition_range_start": partition_range[0],
            "dagster/asset_partition_range_end": partition_range[1],
        }
    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
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
    return build_store_databases(tmp_path / "stores", n_stores=3, n_people=PEOPLE, n_items=120, seed=3)


@pytest.mark.slow
def test_pipeline_end_to_end(instance, storage: StorageResource, store_urls: dict[str, str]) -> None:
    stores = RetailStoresResource(store_urls=store_urls)
    instance.add_dynamic_partitions(store_partitions.name, list(store_urls))
    everything = ("store_1", "store_3")

    ingest = materialize(instance, storage, stores, ["store_customers", "store_transactions"], everything)
    assert ingest.success
    customers = STORE_CUSTOMERS.store(storage)
    first_count = customers.count()
    # Every store database has one planted identity-less customer and two orphan transactions.
    meta = metadata_of(ingest, "store_customers")
    assert [meta[f"{s}/quarantined_rows"] for s in store_urls] == [1, 1, 1]
    # Names, addresses, phones and e-mails never reach metadata: the sample rows mask them.
    first_names = {
        n for n in customers.read(columns=["first_name"]).column("first_name").to_pylist() if n and len(n) > 3
    }
    assert "(personal data)" in meta["sample_rows"] and not any(n in meta["sample_rows"] for n in first_names)
    meta = metadata_of(ingest, "store_transactions")
    assert [meta[f"{s}/quarantined_rows"] for s in store_urls] == [2, 2, 2]

    # Re-running one store replaces exactly its rows.
    again = materialize(instance, storage, stores, ["store_customers", "store_transactions"], ("store_2", "store_2"))
    assert again.success and customers.count() == first_count

    linkage = materialize(instance, storage, stores, ["retail_catalogue", "customer_entities"])
    assert linkage.success
    assert all(checks_of(linkage).values()), checks_of(linkage)
    assert metadata_of(linkage, "customer_entities")["candidate_pairs_per_record"] < 10
    # The sandbox's planted truth (who is who) scores the linkage; production databases have none.
    entities = CUSTOMER_ENTITIES.store(storage).read().to_pandas()
    quality = match_quality(entities, planted_truth(stores.databases()))
    assert quality["f1"] >= MIN_ENTITY_F1, quality
    assert quality["true_positive_pairs"] + quality["false_negative_pairs"] == quality["true_pairs"]

    merged = materialize(instance, storage, stores, ["retail_transactions"], everything)
    assert merged.success
    tx = ENTITY_TRANSACTIONS.store(storage).read().to_pandas()
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
    saved = json.loads(storage.model_store(TWO_TOWER_MODEL).read_text("report.json"))
    report, comparison = saved["results"], saved["comparison"]
    ndcg = {name: r["ndcg@10"] for name, r in report.items()}
    # The champion is the validation winner; test metrics carry bootstrap intervals for every candidate.
    validation = {name: m["ndcg@10"]["mean"] for name, m in comparison["validation"].items()}
    assert saved["champion"] == comparison["champion"] == max(validation, key=validation.__getitem__)
    assert all(m["ndcg@10"]["low"] <= m["ndcg@10"]["mean"] <= m["ndcg@10"]["high"] for m in comparison["test"].values())
    difference = comparison["champion_minus_best_baseline_test"]
    assert checks_of(trained) == {
        "item_item_examples_have_no_future_items": True,
        "retail_champion_vs_strongest_baseline": difference is None or difference["high"] >= 0,
    }
    assert ndcg["two_tower"] > ndcg["most_popular"], ndcg
    examples = metadata_of(trained, "item_item_examples")
    assert examples["test_examples"] > 100 and examples["train_examples"] > examples["test_examples"]
    assert examples["validation_examples"] == examples["test_examples"]  # one of each per entity
    model = metadata_of(trained, "two_tower_model")
    assert model["two_tower_hit_rate@10"] == report["two_tower"]["hit_rate@10"] > report["most_popular"]["hit_rate@10"]
    assert model["served_model"] == saved["champion"]
    assert model["preset"] == ("full" if gpu_available() else "small"), model["preset_reason"]
    assert (storage.model_store(TWO_TOWER_MODEL).path() / "baselines.npz").exists()
    store = storage.model_store(TWO_TOWER_MODEL)
    model_dir = store.path()
    assert (model_dir / "query_tower.keras").exists() and (model_dir / "candidates.npz").exists()
    manifest = store.manifest()
    assert manifest["version"] == model["model_version"] == store.latest()
    assert manifest["metrics"]["two_tower_hit_rate@10"] == model["two_tower_hit_rate@10"]
    assert manifest["params"]["epochs"] == TINY_TRAINING["epochs"]
    assert set(manifest["data_versions"]) == {"retail_catalogue", "retail_transactions"}


@pytest.mark.slow
def test_examples_contain_no_future_items(instance, storage: StorageResource, store_urls: dict[str, str]) -> None:
    stores = RetailStoresResource(store_urls=store_urls)
    instance.add_dynamic_partitions(store_partitions.name, list(store_urls))
    span = ("store_1", "store_3")
    assert materialize(instance, storage, stores, ["store_customers", "store_transactions"], span).success
    assert materialize(instance, storage, stores, ["retail_catalogue", "customer_entities"]).success
    assert materialize(instance, storage, stores, ["retail_transactions"], span).success
    assert materialize(instance, storage, stores, ["item_item_examples"]).success

    train = read_examples(ITEM_ITEM_EXAMPLES.uri(storage, "train"))
    validation = read_examples(ITEM_ITEM_EXAMPLES.uri(storage, "validation"))
    test = read_examples(ITEM_ITEM_EXAMPLES.uri(storage, "test"))
    for arrays in (train, validation, test):
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
    validation_time = pd.Series(validation["label_timestamp"][:, 0], index=validation["entity_id"][:, 0])
    assert (validation_time <= test_time.reindex(validation_time.index).to_numpy()).all()
    assert (train_time <= validation_time.reindex(train_time.index).to_numpy()).all()
    tx = ENTITY_TRANSACTIONS.store(storage).read().to_pandas()
    last = tx.groupby("entity_id")["transaction_time"].max().astype("int64") // 1_000_000_000
    assert (last.reindex(test_time.index.astype(str)).to_numpy() == test_time.to_numpy()).all()
