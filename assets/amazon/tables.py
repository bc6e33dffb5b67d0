"""The Amazon Delta tables, each declared once.

Review `title` and `text` are free text written by users, so they never reach metadata; `user_id` is the
release's anonymised id (pseudonymous), and item metadata is about products, not people.
"""

import pyarrow as pa

from foundation.tables import DeltaTableSpec
from models.amazon.comparison import MODEL_METRICS_SCHEMA
from scrapers.amazon.jsonl import ITEM_SCHEMA, REVIEW_SCHEMA

REVIEWS = DeltaTableSpec(
    "amazon_reviews",
    REVIEW_SCHEMA,
    partition_by=("category",),
    keys=("category", "source_file", "source_line"),
    personal_data=("title", "text"),
    description="Every review line of a category's landed file; the category is replaced on re-ingestion.",
)
ITEMS = DeltaTableSpec(
    "amazon_items",
    ITEM_SCHEMA,
    partition_by=("category",),
    keys=("category", "parent_asin"),
    description="Item metadata of a category, one row per parent_asin.",
)

DATASET_RATINGS_SCHEMA = pa.schema(
    [
        ("tag", pa.string()),
        ("user_id", pa.string()),
        ("parent_asin", pa.string()),
        ("rating", pa.float32()),
        ("timestamp", pa.timestamp("ms", tz="UTC")),
    ]
)
DATASET_ITEMS_SCHEMA = pa.schema(
    [
        ("tag", pa.string()),
        ("parent_asin", pa.string()),
        ("title", pa.string()),
        ("main_category", pa.string()),
        ("store", pa.string()),
        ("average_rating", pa.float32()),
        ("rating_number", pa.int64()),
        ("price", pa.float64()),
    ]
)
DATASET_RATINGS = DeltaTableSpec(
    "amazon_dataset_ratings",
    DATASET_RATINGS_SCHEMA,
    partition_by=("tag",),
    keys=("tag", "user_id", "parent_asin"),
    description="The filtered ratings of a dataset tag (one per user and item, the latest).",
)
DATASET_ITEMS = DeltaTableSpec(
    "amazon_dataset_items",
    DATASET_ITEMS_SCHEMA,
    partition_by=("tag",),
    keys=("tag", "parent_asin"),
    description="The items rated in a dataset tag, with their metadata.",
)
MODEL_METRICS = DeltaTableSpec(
    "amazon_model_metrics",
    MODEL_METRICS_SCHEMA,
    partition_by=("tag",),
    keys=("tag", "model"),
    description="Every recommender's ranking metrics on a tag's temporal leave-last-out split.",
)
