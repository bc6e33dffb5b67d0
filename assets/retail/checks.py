"""Retail asset checks: every customer record has one entity, examples do not leak, the model beats popularity."""

import json

import dagster as dg

from assets.retail.linkage import customer_entities
from assets.retail.tables import CUSTOMER_ENTITIES, ITEM_ITEM_EXAMPLES, STORE_CUSTOMERS, TWO_TOWER_MODEL
from assets.retail.training import item_item_examples, two_tower_model
from foundation.resources import StorageResource
from models.retail.sequences import leakage_counts, read_examples


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
    counts = leakage_counts(
        read_examples(ITEM_ITEM_EXAMPLES.uri(storage, "train")), read_examples(ITEM_ITEM_EXAMPLES.uri(storage, "test"))
    )
    return dg.AssetCheckResult(passed=not any(counts.values()), metadata=counts)


@dg.asset_check(asset=two_tower_model, description="The model ranks better than recommending the most popular items.")
def two_tower_beats_most_popular(storage: StorageResource) -> dg.AssetCheckResult:
    report = json.loads(storage.model_store(TWO_TOWER_MODEL).read_text("report.json"))["results"]
    model, popular = report["two_tower"]["ndcg@10"], report["most_popular"]["ndcg@10"]
    return dg.AssetCheckResult(
        passed=model > popular, metadata={"two_tower_ndcg@10": model, "most_popular_ndcg@10": popular}
    )
