"""Retail asset checks: every customer record has one entity, examples do not leak, the served champion holds up
against the strongest baseline."""

import json

import dagster as dg

from assets.retail.linkage import customer_entities
from assets.retail.tables import CUSTOMER_ENTITIES, ITEM_ITEM_EXAMPLES, STORE_CUSTOMERS, TWO_TOWER_MODEL
from assets.retail.training import item_item_examples, two_tower_model
from foundation.model_checks import champion_check_result
from foundation.resources import StorageResource
from models.retail.sequences import SPLITS, leakage_counts, read_examples


@dg.asset_check(asset=customer_entities, blocking=True)
def customer_entities_cover_every_record(storage: StorageResource) -> dg.AssetCheckResult:
    customers = STORE_CUSTOMERS.store(storage).read(columns=["record_key"])
    entities = CUSTOMER_ENTITIES.store(storage).read(columns=["record_key"]).to_pandas()
    keys = set(customers.column("record_key").to_pylist())
    duplicated = int(entities["record_key"].duplicated().sum())
    missing = len(keys - set(entities["record_key"]))
    return dg.AssetCheckResult(
        passed=duplicated == 0 and missing == 0,
        metadata={"records": len(keys), "missing": missing, "duplicated": duplicated},
    )


@dg.asset_check(asset=item_item_examples, blocking=True, description="No context item is later than its label.")
def item_item_examples_have_no_future_items(storage: StorageResource) -> dg.AssetCheckResult:
    train, validation, test = (read_examples(ITEM_ITEM_EXAMPLES.uri(storage, name)) for name in SPLITS)
    counts = leakage_counts(train, test, validation)
    return dg.AssetCheckResult(passed=not any(counts.values()), metadata=counts)


@dg.asset_check(
    asset=two_tower_model,
    description="The served champion (chosen on validation) against the strongest baseline on test NDCG@10: "
    "warns when the champion does worse beyond bootstrap noise (its paired 95% interval lies below zero).",
)
def retail_champion_vs_strongest_baseline(storage: StorageResource) -> dg.AssetCheckResult:
    comparison = json.loads(storage.model_store(TWO_TOWER_MODEL).read_text("report.json"))["comparison"]
    extra = {"two_tower_test_ndcg@10": dg.MetadataValue.json(comparison["test"]["two_tower"]["ndcg@10"])}
    return champion_check_result(comparison, "ndcg@10", extra)
