"""Retail: per-store SQL databases -> deduplicated customers -> item-item sequences -> two-tower recommender.

Pipeline (partitioned by store where the data is per store):
  store_customers      Customer rows of each store database, one Delta table, partition = store
  store_transactions   TransactionEntry rows (+ the item's brand code), partition = store
  retail_catalogue     Item + Department + BrandCode, the same chain-wide catalogue in every store
  customer_entities    splink record linkage over all stores: entity id + match score per customer record
  retail_transactions  transactions under entity ids, partition = store
  item_item_examples   TFRecords of (last 10 purchases -> next item), last purchase per entity held out
  two_tower_model      Keras 3 two-tower retrieval + brute-force top-10 index, next to baselines

Sources are SQLAlchemy URLs (SQLite files in the sandbox, PostgreSQL in production); the
password, when the URL needs one, comes from the RETAIL_DB_PASSWORD environment variable.
"""

import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from foundation.charts import bar_chart_png, markdown_image
from foundation.ranking_metrics import single_target_metrics, top_k_by_partition
from models.retail_dedup import customer_records, pairwise_scores
from models.retail_linkage_splink import link_records_splink
from models.retail_sequences import (
    EXAMPLE_FEATURES,
    TOP_K,
    Catalogue,
    cooccurrence_scores,
    most_popular_scores,
    split_examples,
    transition_scores,
)
from foundation.automation import retrain
from foundation.progress import Progress, keras_progress
from foundation.resources import StorageResource, default_root_uri
from foundation.storage.delta_tables import Window
from foundation.storage.quarantine import Quarantine
from foundation.storage.tfrecords import ShardWriter, read_manifest
from sandbox import retail_stores as layout

MODEL_NAME = "retail_two_tower"
EXAMPLES_DATASET = "retail_item_item"
MIN_ENTITY_F1 = 0.95
MAX_REJECT_SHARE = 0.05

store_partitions = dg.DynamicPartitionsDefinition(name="retail_stores")


# -- source databases ------------------------------------------------------------------------------------------


class RetailStoresResource(dg.ConfigurableResource):
    """The store databases: partition key -> SQLAlchemy URL (`{password}` is filled from `password`)."""

    store_urls: dict[str, str] = {}
    password: str | None = None

    def engine(self, store: str) -> sa.Engine:
        if store not in self.store_urls:
            raise KeyError(f"no database configured for store {store!r}; known: {sorted(self.store_urls)}")
        url = self.store_urls[store]
        if "{password}" in url:
            if not self.password:
                raise ValueError(f"store {store} needs RETAIL_DB_PASSWORD")
            url = url.replace("{password}", self.password)
        return sa.create_engine(url, pool_pre_ping=True)

    def safe_url(self, store: str) -> str:
        """The URL without its password, for logs and metadata."""
        return sa.make_url(self.store_urls[store].replace("{password}", "***")).render_as_string(hide_password=True)

    def read(self, store: str, query: sa.Select) -> pd.DataFrame:
        # Connections drop and servers restart: retry transient errors a few times, then fail loudly.
        engine = self.engine(store)
        try:
            for attempt in range(3):
                try:
                    with engine.connect() as conn:
                        return pd.read_sql(query, conn)
                except sa.exc.OperationalError:
                    if attempt == 2:
                        raise
                    time.sleep(0.5 * 2**attempt)
        finally:
            engine.dispose()
        raise AssertionError("unreachable")

    def has_table(self, store: str, table: str) -> bool:
        engine = self.engine(store)
        try:
            return sa.inspect(engine).has_table(table)
        finally:
            engine.dispose()

    def watermark(self, store: str) -> str:
        """What changes when the store has new data: highest transaction id and customer count."""
        frame = self.read(
            store,
            sa.select(
                sa.select(sa.func.max(layout.TRANSACTION_ENTRY.c.ID)).scalar_subquery().label("max_tx"),
                sa.select(sa.func.count()).select_from(layout.CUSTOMER).scalar_subquery().label("customers"),
            ),
        )
        return f"{frame['max_tx'].iloc[0]}:{frame['customers'].iloc[0]}"


def default_stores_resource() -> RetailStoresResource:
    root = Path(default_root_uri()) / "landing" / "retail_stores"
    return RetailStoresResource(
        store_urls={key: f"sqlite:///{root / f'{key}.sqlite'}" for key in layout.store_keys(3)},
        # Kept as an EnvVar (never a literal) so Dagster masks it; only set when the environment has it.
        password=dg.EnvVar("RETAIL_DB_PASSWORD") if os.environ.get("RETAIL_DB_PASSWORD") else None,
    )


# -- table schemas -------------------------------------------------------------------------------------------------

TS = pa.timestamp("us", tz="UTC")
CUSTOMERS_SCHEMA = pa.schema(
    [
        ("store_id", pa.string()),
        ("customer_id", pa.int64()),
        ("record_key", pa.string()),
        ("first_name", pa.string()),
        ("last_name", pa.string()),
        ("company", pa.string()),
        ("address", pa.string()),
        ("address2", pa.string()),
        ("city", pa.string()),
        ("state", pa.string()),
        ("zip", pa.string()),
        ("phone_number", pa.string()),
        ("email_address", pa.string()),
        ("referral_code", pa.string()),
        ("total_sales", pa.float64()),
        ("total_savings", pa.float64()),
        ("total_visits", pa.int64()),
        ("last_visit", TS),
    ]
)
TRANSACTIONS_SCHEMA = pa.schema(
    [
        ("store_id", pa.string()),
        ("transaction_id", pa.int64()),
        ("customer_id", pa.int64()),
        ("record_key", pa.string()),
        ("item_id", pa.int64()),
        ("transaction_time", TS),
        ("price", pa.float64()),
        ("full_price", pa.float64()),
        ("quantity", pa.float64()),
        ("department_id", pa.int64()),
        ("discount_id", pa.int64()),
        ("return_id", pa.int64()),
        ("brand_code", pa.string()),
    ]
)
CATALOGUE_SCHEMA = pa.schema(
    [
        ("item_id", pa.int64()),
        ("description", pa.string()),
        ("full_price", pa.float64()),
        ("department_id", pa.int64()),
        ("department_name", pa.string()),
        ("brand_code", pa.string()),
        ("brand_name", pa.string()),
    ]
)
ENTITIES_SCHEMA = pa.schema(
    [
        ("record_key", pa.string()),
        ("store_id", pa.string()),
        ("customer_id", pa.int64()),
        ("entity_id", pa.string()),
        ("match_score", pa.float64()),
        ("cluster_size", pa.int32()),
    ]
)
ENTITY_TRANSACTIONS_SCHEMA = pa.schema([*TRANSACTIONS_SCHEMA, ("entity_id", pa.string())])


def _record_key(store: str, customer_id: Any) -> str:
    return f"{store}:{int(customer_id)}"


def _to_table(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)


def _utc(series: pd.Series) -> pd.Series:
    values = pd.to_datetime(series, errors="coerce")
    return values.dt.tz_localize("UTC") if values.dt.tz is None else values.dt.tz_convert("UTC")


def _blank(series: pd.Series) -> pd.Series:
    return series.isna() | (series.astype(str).str.strip() == "")


# -- ingestion ------------------------------------------------------------------------------------------------------


def read_store_customers(stores: RetailStoresResource, store: str, quarantine: Any) -> pd.DataFrame:
    raw = stores.read(store, sa.select(layout.CUSTOMER))
    identity = ["FirstName", "LastName", "PhoneNumber", "EmailAddress", "Address"]
    nameless = np.logical_and.reduce([_blank(raw[c]) for c in identity])
    for _, row in raw[nameless].iterrows():
        quarantine.reject(
            row.to_json(), "no_identity: no name, address, phone or e-mail", f"{store}/Customer/{row['ID']}"
        )
    raw = raw[~nameless]
    return pd.DataFrame(
        {
            "store_id": store,
            "customer_id": raw["ID"].astype("int64"),
            "record_key": [_record_key(store, i) for i in raw["ID"]],
            "first_name": raw["FirstName"],
            "last_name": raw["LastName"],
            "company": raw["Company"],
            "address": raw["Address"],
            "address2": raw["Address2"],
            "city": raw["City"],
            "state": raw["State"],
            "zip": raw["Zip"],
            "phone_number": raw["PhoneNumber"],
            "email_address": raw["EmailAddress"],
            "referral_code": raw["ReferralCode"],
            "total_sales": pd.to_numeric(raw["TotalSales"]).astype(float),
            "total_savings": pd.to_numeric(raw["TotalSavings"]).astype(float),
            "total_visits": pd.to_numeric(raw["TotalVisits"]).astype("Int64"),
            "last_visit": _utc(raw["LastVisit"]),
        }
    )


def read_store_transactions(stores: RetailStoresResource, store: str, quarantine: Any) -> pd.DataFrame:
    te, item, customer = layout.TRANSACTION_ENTRY, layout.ITEM, layout.CUSTOMER
    query = sa.select(
        te, item.c.BinLocation.label("BrandCode"), item.c.ID.label("KnownItem"), customer.c.ID.label("KnownCustomer")
    ).select_from(te.outerjoin(item, te.c.ItemID == item.c.ID).outerjoin(customer, te.c.CustomerID == customer.c.ID))
    raw = stores.read(store, query)
    problems = {
        "unknown_customer": raw["KnownCustomer"].isna(),
        "unknown_item": raw["KnownItem"].isna(),
        "missing_field": raw[["TransactionTime", "Quantity", "Price"]].isna().any(axis=1),
    }
    bad = np.zeros(len(raw), dtype=bool)
    for reason, mask in problems.items():
        mask = mask.to_numpy() & ~bad
        for _, row in raw[mask].iterrows():
            quarantine.reject(
                row.to_json(), f"{reason}: transaction {row['ID']}", f"{store}/TransactionEntry/{row['ID']}"
            )
        bad |= mask
    raw = raw[~bad]
    return pd.DataFrame(
        {
            "store_id": store,
            "transaction_id": raw["ID"].astype("int64"),
            "customer_id": raw["CustomerID"].astype("int64"),
            "record_key": [_record_key(store, i) for i in raw["CustomerID"]],
            "item_id": raw["ItemID"].astype("int64"),
            "transaction_time": _utc(raw["TransactionTime"]),
            "price": pd.to_numeric(raw["Price"]).astype(float),
            "full_price": pd.to_numeric(raw["FullPrice"]).astype(float),
            "quantity": raw["Quantity"].astype(float),
            "department_id": raw["DepartmentID"].astype("int64"),
            "discount_id": raw["DiscountID"].fillna(0).astype("int64"),
            "return_id": raw["ReturnID"].fillna(0).astype("int64"),
            "brand_code": raw["BrandCode"].fillna(""),
        }
    )


def _ingest_stores(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    retail_stores: RetailStoresResource,
    read: Callable[[RetailStoresResource, str, Quarantine], pd.DataFrame],
    quarantine_source: str,
    table: str,
    schema: pa.Schema,
) -> dg.MaterializeResult:
    """Read one table from each store database of the run's partitions into its Delta window."""
    frames, meta = [], {}
    for store in context.partition_keys:
        quarantine = storage.quarantine(quarantine_source, store)
        frame = read(retail_stores, store, quarantine)
        quarantine.check_share(len(frame) + quarantine.count, MAX_REJECT_SHARE)
        meta |= {f"{store}/{k}": v for k, v in quarantine.commit(context.run_id).items()}
        meta[f"{store}/source"] = retail_stores.safe_url(store)
        frames.append(frame)
    result = storage.delta(table, schema, ["store_id"]).overwrite(
        _to_table(pd.concat(frames), schema), Window.of("store_id", *context.partition_keys)
    )
    return dg.MaterializeResult(metadata=result.metadata() | meta)


@dg.asset(
    partitions_def=store_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="retail",
    kinds={"sql", "delta"},
    description="Customer records of every store database in one Delta table (partition = store).",
)
def store_customers(
    context: dg.AssetExecutionContext, storage: StorageResource, retail_stores: RetailStoresResource
) -> dg.MaterializeResult:
    return _ingest_stores(
        context, storage, retail_stores, read_store_customers, "retail_customers", "retail_store_customers",
        CUSTOMERS_SCHEMA,
    )


@dg.asset(
    partitions_def=store_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="retail",
    kinds={"sql", "delta"},
    description="TransactionEntry rows of every store with the item's brand code (partition = store).",
)
def store_transactions(
    context: dg.AssetExecutionContext, storage: StorageResource, retail_stores: RetailStoresResource
) -> dg.MaterializeResult:
    return _ingest_stores(
        context, storage, retail_stores, read_store_transactions, "retail_transactions", "retail_store_transactions",
        TRANSACTIONS_SCHEMA,
    )


@dg.asset(
    group_name="retail",
    kinds={"sql", "delta"},
    description="Chain-wide item catalogue (Item + Department + BrandCode), checked to agree across stores.",
)
def retail_catalogue(
    context: dg.AssetExecutionContext, storage: StorageResource, retail_stores: RetailStoresResource
) -> dg.MaterializeResult:
    item, dept, brand = layout.ITEM, layout.DEPARTMENT, layout.BRAND_CODE
    query = sa.select(
        item.c.ID.label("item_id"),
        item.c.Description.label("description"),
        item.c.FullPrice.label("full_price"),
        item.c.DepartmentID.label("department_id"),
        dept.c.DepartmentName.label("department_name"),
        item.c.BinLocation.label("brand_code"),
        brand.c.BrandName.label("brand_name"),
    ).select_from(
        item.outerjoin(dept, item.c.DepartmentID == dept.c.ID).outerjoin(brand, item.c.BinLocation == brand.c.BrandCode)
    )
    quarantine = storage.quarantine("retail_catalogue")
    merged: pd.DataFrame | None = None
    for store in sorted(retail_stores.store_urls):
        frame = retail_stores.read(store, query)
        frame["full_price"] = pd.to_numeric(frame["full_price"]).astype(float)
        if merged is None:
            merged = frame
            continue
        both = merged.merge(frame, on="item_id", suffixes=("", "_other"))
        conflict = (both["description"] != both["description_other"]) | (
            (both["full_price"] - both["full_price_other"]).abs() > 0.005
        )
        for _, row in both[conflict].iterrows():
            quarantine.reject(row.to_json(), f"catalogue_conflict: item {row['item_id']} differs in {store}", store)
        merged = pd.concat([merged, frame[~frame["item_id"].isin(merged["item_id"])]])
    if merged is None:
        raise ValueError("no store databases configured")
    merged = merged.sort_values("item_id")
    merged["department_id"] = merged["department_id"].fillna(0).astype("int64")
    merged["brand_code"] = merged["brand_code"].fillna("")
    result = storage.delta("retail_catalogue", CATALOGUE_SCHEMA).replace_all(_to_table(merged, CATALOGUE_SCHEMA))
    return dg.MaterializeResult(metadata=result.metadata() | quarantine.commit(context.run_id))


# -- customer deduplication --------------------------------------------------------------------------------------------


def planted_truth(stores: RetailStoresResource) -> pd.DataFrame | None:
    """record_key -> person id from the sandbox's SandboxTruth tables; None where a store has none."""
    frames = []
    for store in sorted(stores.store_urls):
        if not stores.has_table(store, layout.SANDBOX_TRUTH.name):
            return None
        truth = stores.read(store, sa.select(layout.SANDBOX_TRUTH))
        frames.append(
            pd.DataFrame(
                {
                    "record_key": [_record_key(store, i) for i in truth["CustomerID"]],
                    "person_id": truth["PersonID"].astype("int64"),
                }
            )
        )
    return pd.concat(frames)


def match_quality(entities: pd.DataFrame, truth: pd.DataFrame) -> dict[str, Any]:
    joined = entities.merge(truth, on="record_key", how="inner")
    return pairwise_scores(joined["entity_id"].to_numpy(), joined["person_id"].to_numpy())


@dg.asset(
    deps=[dg.AssetDep("store_customers", partition_mapping=dg.AllPartitionMapping())],
    group_name="retail",
    kinds={"delta"},
    automation_condition=dg.AutomationCondition.eager(),
    description="Entity id per customer record (splink record linkage on DuckDB with blocking), with match scores.",
)
def customer_entities(
    context: dg.AssetExecutionContext, storage: StorageResource, retail_stores: RetailStoresResource
) -> dg.MaterializeResult:
    customers = storage.delta("retail_store_customers", CUSTOMERS_SCHEMA, ["store_id"]).read().to_pandas()
    with Progress(context.log, "customer records linked", len(customers)) as linking:
        linkage = link_records_splink(customer_records(customers))
        linking.advance(len(customers))
    entities = linkage.entities.merge(customers[["record_key", "store_id", "customer_id"]], on="record_key")
    result = storage.delta("retail_customer_entities", ENTITIES_SCHEMA).replace_all(
        _to_table(entities, ENTITIES_SCHEMA)
    )
    stats = linkage.stats
    meta: dict[str, Any] = {
        "records": stats["records"],
        "entities": stats["entities"],
        "candidate_pairs": stats["candidate_pairs"],
        "linked_pairs": stats["linked_pairs"],
        "candidate_pairs_per_record": round(stats["candidate_pairs"] / max(stats["records"], 1), 3),
        **linking.metadata(),
        "linkage": dg.MetadataValue.json(
            {
                k: stats[k]
                for k in (
                    "engine",
                    "pairs_per_rule",
                    "match_prior",
                    "threshold",
                    "em_sessions_skipped",
                    "m_probabilities",
                    "u_probabilities",
                    "seconds",
                )
            }
        ),
    }
    truth = planted_truth(retail_stores)
    if truth is not None:
        quality = match_quality(entities, truth)
        meta |= {f"pairwise_{k}": v for k, v in quality.items()}
        context.log.info(f"dedup against planted truth: {quality}")
    return dg.MaterializeResult(metadata=result.metadata() | meta)


@dg.asset_check(asset=customer_entities, blocking=True)
def customer_entities_cover_every_record(storage: StorageResource) -> dg.AssetCheckResult:
    customers = storage.delta("retail_store_customers", CUSTOMERS_SCHEMA, ["store_id"]).read(columns=["record_key"])
    entities = storage.delta("retail_customer_entities", ENTITIES_SCHEMA).read(columns=["record_key"]).to_pandas()
    keys = set(customers.column("record_key").to_pylist())
    duplicated = int(entities["record_key"].duplicated().sum())
    missing = len(keys - set(entities["record_key"]))
    return dg.AssetCheckResult(
        passed=duplicated == 0 and missing == 0,
        metadata={"records": len(keys), "missing": missing, "duplicated": duplicated},
    )


@dg.asset_check(
    asset=customer_entities,
    blocking=True,
    description=f"Pairwise F1 against planted duplicates >= {MIN_ENTITY_F1} (sandbox stores only).",
)
def customer_entities_match_planted_truth(
    storage: StorageResource, retail_stores: RetailStoresResource
) -> dg.AssetCheckResult:
    truth = planted_truth(retail_stores)
    if truth is None:
        return dg.AssetCheckResult(passed=True, metadata={"note": "no planted truth in these databases"})
    entities = storage.delta("retail_customer_entities", ENTITIES_SCHEMA).read().to_pandas()
    quality = match_quality(entities, truth)
    return dg.AssetCheckResult(passed=quality["f1"] >= MIN_ENTITY_F1, metadata=quality)


@dg.asset(
    partitions_def=store_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[store_transactions, customer_entities],
    group_name="retail",
    kinds={"delta"},
    automation_condition=dg.AutomationCondition.eager(),
    description="Store transactions under customer entity ids (partition = store).",
)
def retail_transactions(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    window = Window.of("store_id", *context.partition_keys)
    transactions = (
        storage.delta("retail_store_transactions", TRANSACTIONS_SCHEMA, ["store_id"]).read(window).to_pandas()
    )
    entities = (
        storage.delta("retail_customer_entities", ENTITIES_SCHEMA).read(columns=["record_key", "entity_id"]).to_pandas()
    )
    merged = transactions.merge(entities, on="record_key", how="left")
    unresolved = int(merged["entity_id"].isna().sum())
    if unresolved:
        raise ValueError(
            f"{unresolved} transactions of {context.partition_keys} have no customer entity; "
            "re-materialise customer_entities after store_customers"
        )
    result = storage.delta("retail_transactions", ENTITY_TRANSACTIONS_SCHEMA, ["store_id"]).overwrite(
        _to_table(merged, ENTITY_TRANSACTIONS_SCHEMA), window
    )
    records = merged["record_key"].nunique()
    return dg.MaterializeResult(
        metadata=result.metadata() | {"customer_records": records, "entities": int(merged["entity_id"].nunique())}
    )


# -- item-item examples and the two-tower model ---------------------------------------------------------------------------


def _write_examples(uri: str, examples: list[dict[str, Any]], metadata: dict[str, Any]) -> int:
    with ShardWriter(uri, EXAMPLE_FEATURES, prefix="examples", metadata=metadata) as writer:
        writer.write_all(examples)
    return len(examples)


@dg.asset(
    deps=[dg.AssetDep(retail_transactions, partition_mapping=dg.AllPartitionMapping())],
    group_name="retail",
    kinds={"tfrecord"},
    automation_condition=dg.AutomationCondition.eager(),
    description="Item-item sequence TFRecords (context_* of the last 10 purchases -> label_item_id); "
    "the last purchase of each entity is the test example.",
)
def item_item_examples(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    transactions = storage.delta("retail_transactions", ENTITY_TRANSACTIONS_SCHEMA, ["store_id"]).read().to_pandas()
    with Progress(context.log, "transactions turned into sequence examples", len(transactions)) as building:
        train, test, stats = split_examples(transactions)
        building.advance(len(transactions))
    source_version = storage.delta("retail_transactions", ENTITY_TRANSACTIONS_SCHEMA, ["store_id"]).version()
    meta = {"source_table_version": source_version, "split": "last purchase per entity held out"}
    with Progress(context.log, "examples written", len(train) + len(test)) as writing:
        writing.advance(_write_examples(storage.tfrecords_uri(EXAMPLES_DATASET, "train"), train, meta))
        writing.advance(_write_examples(storage.tfrecords_uri(EXAMPLES_DATASET, "test"), test, meta))
    return dg.MaterializeResult(
        metadata={
            "train_examples": stats.train_examples,
            "test_examples": stats.test_examples,
            "entities": stats.entities,
            "entities_too_short": stats.entities_too_short,
            "dagster/row_count": stats.train_examples + stats.test_examples,
            "train_uri": dg.MetadataValue.path(storage.tfrecords_uri(EXAMPLES_DATASET, "train")),
            "test_uri": dg.MetadataValue.path(storage.tfrecords_uri(EXAMPLES_DATASET, "test")),
        }
    )


def read_examples(uri: str) -> dict[str, np.ndarray]:
    """Example arrays from a manifest's TFRecords (through tf.data, as a trainer reads them)."""
    from foundation.storage.tfrecord_datasets import dataset_from_manifest

    if read_manifest(uri).examples == 0:
        raise ValueError(f"{uri} has no examples")
    batches = list(dataset_from_manifest(uri, parallel=False).batch(65536).as_numpy_iterator())
    return {name: np.concatenate([b[name] for b in batches]) for name in EXAMPLE_FEATURES}


@dg.asset_check(asset=item_item_examples, blocking=True, description="No context item is later than its label.")
def item_item_examples_have_no_future_items(storage: StorageResource) -> dg.AssetCheckResult:
    train = read_examples(storage.tfrecords_uri(EXAMPLES_DATASET, "train"))
    test = read_examples(storage.tfrecords_uri(EXAMPLES_DATASET, "test"))
    future = sum(
        int(((a["context_timestamp"] > a["label_timestamp"]) & (a["context_item_id"] != 0)).sum())
        for a in (train, test)
    )
    last_test = dict(zip(test["entity_id"][:, 0], test["label_timestamp"][:, 0], strict=True))
    train_after_test = int(
        sum(
            ts > last_test.get(e, np.inf)
            for e, ts in zip(train["entity_id"][:, 0], train["label_timestamp"][:, 0], strict=True)
        )
    )
    return dg.AssetCheckResult(
        passed=future == 0 and train_after_test == 0,
        metadata={"future_context_items": future, "train_labels_after_test": train_after_test},
    )


class TwoTowerTrainingConfig(dg.Config):
    embedding_dim: int = 32
    gru_units: int = 64
    epochs: int = 8
    batch_size: int = 256
    learning_rate: float = 0.005
    dropout: float = 0.2
    seed: int = 0


def catalogue_features(catalogue: pd.DataFrame) -> Any:
    from models.retail_two_tower import CatalogueFeatures

    return CatalogueFeatures(
        item_ids=catalogue["item_id"].to_numpy(np.int64),
        department_ids=catalogue["department_id"].to_numpy(np.int64),
        brand_codes=catalogue["brand_code"].astype(str).to_numpy(object),
        prices=catalogue["full_price"].to_numpy(np.float32),
        descriptions=catalogue["description"].to_numpy(object),
    )


def latest_model_dir(storage: StorageResource) -> Path:
    pointer = storage.local_path("models", MODEL_NAME) / "LATEST"
    if not pointer.exists():
        raise FileNotFoundError(f"no {MODEL_NAME} has been trained under {storage.root_uri}")
    return storage.model_path(MODEL_NAME, pointer.read_text().strip())


@dg.asset(
    deps=[item_item_examples, retail_catalogue],
    group_name="retail",
    kinds={"keras", "tensorflow"},
    description="Keras 3 two-tower retrieval (GRU over the last 10 purchases) with a brute-force top-10 index, "
    "evaluated by full-catalogue ranking next to most-popular, last-item transition and co-occurrence.",
    # The eager tables above follow every store delivery; training runs at most weekly, once they have changed.
    automation_condition=retrain("0 4 * * 1"),
)
def two_tower_model(
    context: dg.AssetExecutionContext, config: TwoTowerTrainingConfig, storage: StorageResource
) -> dg.MaterializeResult:
    from models.retail_two_tower import TwoTowerConfig, save_index, score_queries, train

    catalogue_frame = storage.delta("retail_catalogue", CATALOGUE_SCHEMA).read().to_pandas()
    features = catalogue_features(catalogue_frame)
    catalogue = Catalogue(features.item_ids)
    train_arrays = read_examples(storage.tfrecords_uri(EXAMPLES_DATASET, "train"))
    test_arrays = read_examples(storage.tfrecords_uri(EXAMPLES_DATASET, "test"))
    labels = catalogue.positions(test_arrays["label_item_id"][:, 0])
    train_labels = train_arrays["label_item_id"][:, 0]
    n = len(labels)

    def ranked(scores: np.ndarray) -> dict[str, float]:
        return single_target_metrics(top_k_by_partition(np.asarray(scores), TOP_K), labels, digits=4)

    train_context, test_context = train_arrays["context_item_id"], test_arrays["context_item_id"]
    results = {
        "most_popular": ranked(most_popular_scores(train_labels, catalogue, n)),
        "last_item_transition": ranked(transition_scores(train_context, train_labels, test_context, catalogue)),
        "item_cooccurrence": ranked(cooccurrence_scores(train_context, train_labels, test_context, catalogue)),
    }
    tt_config = TwoTowerConfig(**config.model_dump())
    started = time.perf_counter()
    progress = keras_progress(context.log, "two-tower model", batch_size=tt_config.batch_size)
    query_tower, embeddings, history = train(train_arrays, features, tt_config, callbacks=[progress])
    train_seconds = time.perf_counter() - started
    results["two_tower"] = ranked(score_queries(query_tower, embeddings, test_arrays))

    version = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{context.run_id[:8]}"
    directory = save_index(
        storage.model_path(MODEL_NAME, version),
        query_tower,
        embeddings,
        features,
        tt_config,
        {
            "results": results,
            "history": history,
            "train_examples": len(train_labels),
            "test_examples": n,
            "catalogue_items": len(catalogue),
            "train_seconds": round(train_seconds, 2),
        },
    )
    (storage.local_path("models", MODEL_NAME) / "LATEST").write_text(version)
    table = "| method | HitRate@10 | Recall@10 | NDCG@10 | MRR@10 |\n|---|---|---|---|---|\n" + "\n".join(
        f"| {name} | {m['hit_rate@10']:.4f} | {m['recall@10']:.4f} | {m['ndcg@10']:.4f} | {m['mrr@10']:.4f} |"
        for name, m in results.items()
    )
    return dg.MaterializeResult(
        metadata={
            "model_dir": dg.MetadataValue.path(str(directory)),
            "model_version": version,
            "evaluation": dg.MetadataValue.md(
                table + f"\n\nfull-catalogue ranking over {len(catalogue)} items, {n} test examples"
            ),
            "hit_rate_plot": dg.MetadataValue.md(
                markdown_image(
                    bar_chart_png({name: m["hit_rate@10"] for name, m in results.items()}),
                    "hit_rate@10",
                    "hit_rate@10 on the held-out last purchases",
                )
            ),
            "two_tower_hit_rate@10": results["two_tower"]["hit_rate@10"],
            "two_tower_ndcg@10": results["two_tower"]["ndcg@10"],
            "best_baseline_hit_rate@10": max(results[k]["hit_rate@10"] for k in results if k != "two_tower"),
            "final_loss": history["loss"][-1],
            "train_seconds": round(train_seconds, 2),
            "train_examples": len(train_labels),
            "test_examples": n,
        }
    )


@dg.asset_check(asset=two_tower_model, description="The model ranks better than recommending the most popular items.")
def two_tower_beats_most_popular(storage: StorageResource) -> dg.AssetCheckResult:
    report = json.loads((latest_model_dir(storage) / "report.json").read_text())["results"]
    model, popular = report["two_tower"]["ndcg@10"], report["most_popular"]["ndcg@10"]
    return dg.AssetCheckResult(
        passed=model > popular, metadata={"two_tower_ndcg@10": model, "most_popular_ndcg@10": popular}
    )


# -- jobs, sensor, schedule -------------------------------------------------------------------------------------------------

retail_store_job = dg.define_asset_job(
    "retail_store_job",
    selection=dg.AssetSelection.assets(store_customers, store_transactions),
    partitions_def=store_partitions,
    description="Ingest store databases (backfill: `dagster job backfill -j retail_store_job`).",
)
retail_linkage_job = dg.define_asset_job(
    "retail_linkage_job", selection=dg.AssetSelection.assets(retail_catalogue, customer_entities)
)
retail_entity_transactions_job = dg.define_asset_job(
    "retail_entity_transactions_job",
    selection=dg.AssetSelection.assets(retail_transactions),
    partitions_def=store_partitions,
)
retail_training_job = dg.define_asset_job(
    "retail_training_job", selection=dg.AssetSelection.assets(item_item_examples, two_tower_model)
)


@dg.sensor(job=retail_store_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED)
def retail_store_sensor(context: dg.SensorEvaluationContext, retail_stores: RetailStoresResource) -> dg.SensorResult:
    """Adds stores as partitions and ingests a store when its watermark (max transaction id, customers) moves.

    The cursor maps store -> last launched watermark, so a store's data is ingested once per change.
    """
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    known = set(context.instance.get_dynamic_partitions(store_partitions.name))
    new_stores = sorted(set(retail_stores.store_urls) - known)
    runs = []
    for store in sorted(retail_stores.store_urls):
        try:
            mark = retail_stores.watermark(store)
        except sa.exc.OperationalError as error:  # one unreachable store must not block the others
            context.log.warning(f"{retail_stores.safe_url(store)} unreachable: {type(error).__name__}")
            continue
        if seen.get(store) != mark:
            runs.append(dg.RunRequest(run_key=f"{store}:{mark}", partition_key=store))
            seen[store] = mark
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=[store_partitions.build_add_request(new_stores)] if new_stores else [],
        cursor=json.dumps(seen, sort_keys=True),
    )


retail_weekly_training = dg.ScheduleDefinition(
    job=retail_training_job, cron_schedule="0 4 * * 1", default_status=dg.DefaultScheduleStatus.STOPPED
)


defs = dg.Definitions(
    assets=[
        store_customers,
        store_transactions,
        retail_catalogue,
        customer_entities,
        retail_transactions,
        item_item_examples,
        two_tower_model,
    ],
    asset_checks=[
        customer_entities_cover_every_record,
        customer_entities_match_planted_truth,
        item_item_examples_have_no_future_items,
        two_tower_beats_most_popular,
    ],
    jobs=[retail_store_job, retail_linkage_job, retail_entity_transactions_job, retail_training_job],
    sensors=[retail_store_sensor],
    schedules=[retail_weekly_training],
    resources={"retail_stores": default_stores_resource()},
)


# -- demo -------------------------------------------------------------------------------------------------------------------

DEMO_PEOPLE = 2000
DEMO_TRAINING = {"epochs": 8}


def demo(ctx: Any) -> None:
    """Three generated store databases -> dedup -> examples -> two-tower model (about a minute of CPU)."""
    directory = ctx.storage.landing_path("retail_stores")
    urls = layout.build_store_databases(directory, n_stores=3, n_people=DEMO_PEOPLE)
    stores = RetailStoresResource(store_urls=urls)
    ctx.instance.add_dynamic_partitions(store_partitions.name, list(urls))
    resources = {"retail_stores": stores}
    ctx.materialize(
        ["store_customers", "store_transactions"], partition_range=(min(urls), max(urls)), resources=resources
    )
    ctx.materialize(["retail_catalogue", "customer_entities"], resources=resources)
    ctx.materialize(["retail_transactions"], partition_range=(min(urls), max(urls)), resources=resources)
    ctx.materialize(
        ["item_item_examples", "two_tower_model"],
        resources=resources,
        run_config={"ops": {"two_tower_model": {"config": DEMO_TRAINING}}},
    )
