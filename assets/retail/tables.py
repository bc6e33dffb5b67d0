"""Every Delta table, TFRecord dataset and model of the retail pipeline, declared once.

Customer records hold names, addresses, phones, e-mails, employers and free-text referral codes (which
sometimes carry an e-mail address): those columns are personal data and never reach metadata. Store customer
ids and entity ids are pseudonymous and stay visible.
"""

import pandas as pd
import pyarrow as pa

from foundation.tables import DeltaTableSpec, TFRecordDatasetSpec
from models.retail.sequences import EXAMPLE_FEATURES
from scrapers.retail.stores import CATALOGUE_SCHEMA, CUSTOMERS_SCHEMA, TRANSACTIONS_SCHEMA

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

STORE_CUSTOMERS = DeltaTableSpec(
    "retail_store_customers",
    CUSTOMERS_SCHEMA,
    partition_by=("store_id",),
    keys=("record_key",),
    personal_data=(
        "first_name",
        "last_name",
        "company",
        "address",
        "address2",
        "city",
        "state",
        "zip",
        "phone_number",
        "email_address",
        "referral_code",
    ),
    description="Customer records of every store database (record_key = <store>:<Customer.ID>).",
)
STORE_TRANSACTIONS = DeltaTableSpec(
    "retail_store_transactions",
    TRANSACTIONS_SCHEMA,
    partition_by=("store_id",),
    keys=("store_id", "transaction_id"),
    description="TransactionEntry rows of every store with the item's brand code.",
)
CATALOGUE = DeltaTableSpec(
    "retail_catalogue",
    CATALOGUE_SCHEMA,
    keys=("item_id",),
    description="Chain-wide item catalogue: Item + Department + BrandCode.",
)
CUSTOMER_ENTITIES = DeltaTableSpec(
    "retail_customer_entities",
    ENTITIES_SCHEMA,
    keys=("record_key",),
    description="Entity id per customer record from the record linkage, with match score and cluster size.",
)
ENTITY_TRANSACTIONS = DeltaTableSpec(
    "retail_transactions",
    ENTITY_TRANSACTIONS_SCHEMA,
    partition_by=("store_id",),
    keys=("store_id", "transaction_id"),
    description="Store transactions under customer entity ids.",
)
ITEM_ITEM_EXAMPLES = TFRecordDatasetSpec(
    "retail_item_item",
    EXAMPLE_FEATURES,
    description="Item-item sequence examples; partitions `train`, `validation` and `test` (per entity the last "
    "purchase is the test example, the one before it the validation example).",
)
TWO_TOWER_MODEL = "retail_two_tower"  # storage.model_store(TWO_TOWER_MODEL): versions of the saved index

# Quarantine sources of rejected store rows.
CUSTOMERS_QUARANTINE = "retail_customers"
TRANSACTIONS_QUARANTINE = "retail_transactions"
CATALOGUE_QUARANTINE = "retail_catalogue"


def to_arrow(table: DeltaTableSpec, frame: pd.DataFrame) -> pa.Table:
    """A frame's columns of the table's schema, as Arrow in that schema."""
    return pa.Table.from_pandas(frame[table.schema.names], schema=table.schema, preserve_index=False)
