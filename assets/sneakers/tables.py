"""Every table, dataset and model store of the sneakers pipeline, declared once."""

from foundation.tables import DeltaTableSpec, TFRecordDatasetSpec
from models.sneakers.dataset import SPLITS_SCHEMA, feature_specs
from models.sneakers.predictions import PREDICTIONS_SCHEMA
from scrapers.sneakers.images import IMAGES_SCHEMA
from scrapers.sneakers.listings import LISTINGS_SCHEMA, PRICE_HISTORY_SCHEMA

LISTINGS = DeltaTableSpec(
    "sneaker_listings",
    LISTINGS_SCHEMA,
    partition_by=("query",),
    keys=("query", "listing_id"),
    description="Listings of each search query as scraped last (a run overwrites exactly its queries).",
)
PRICE_HISTORY = DeltaTableSpec(
    "sneaker_price_history",
    PRICE_HISTORY_SCHEMA,
    partition_by=("scrape_date",),
    keys=("snapshot", "listing_id"),
    description="One row per listing per query per scrape day; a run owns the window snapshot = '<day>|<query>'.",
)
IMAGES = DeltaTableSpec(
    "sneaker_images",
    IMAGES_SCHEMA,
    partition_by=("query",),
    keys=("query", "image_url"),
    description="Each listing image normalised once to a 224x224 RGB JPEG (content-addressed path).",
)
SPLITS = DeltaTableSpec(
    "sneaker_splits",
    SPLITS_SCHEMA,
    keys=("listing_id",),
    description="The train/validation/test split of every listing in the TFRecords.",
)
PREDICTIONS = DeltaTableSpec(
    "sneaker_predictions",
    PREDICTIONS_SCHEMA,
    partition_by=("model_version",),
    keys=("model_version", "listing_id", "head"),
    description="CNN and stacked class probabilities per listing and head, per CNN version.",
)
TRAINING_SET = TFRecordDatasetSpec(
    "sneakers",
    # One-hot lengths follow each build's vocabularies and quantile bins (in every shard manifest).
    features=feature_specs(None, None, None),
    description="224x224 JPEG, title, price and one-hot labels; partitions train, validation, test.",
)
CNN_MODEL = "sneaker_cnn"  # model store (storage.model_store): the CNN, its meta-models and evaluation per version
