"""The training set: listings with a parsed model, a price and a good image, split leak-free, as TFRecords."""

import dagster as dg

from assets.sneakers.ingestion import sneaker_images, sneaker_listings
from assets.sneakers.partitions import GROUP
from assets.sneakers.resources import SneakersMarketplaceResource
from assets.sneakers.tables import IMAGES, LISTINGS, SPLITS, TRAINING_SET
from foundation.resources import StorageResource
from foundation.run_config import run_config_for
from models.sneakers.dataset import SPLITS as SPLIT_NAMES
from models.sneakers.dataset import DatasetSettings, assign_splits, splits_table, write_shards
from scrapers.sneakers.listings import trainable_listings
from scrapers.sneakers.titles import SneakerVocabulary

TFRecordConfig = run_config_for(DatasetSettings, "TFRecordConfig")


@dg.asset(
    group_name=GROUP,
    deps=[sneaker_listings, sneaker_images],
    kinds={"tfrecord"},
    description="Train/validation/test TFRecord shards: 224x224 JPEG, title, price, one-hot price bins, model, brand.",
)
def sneaker_tfrecords(
    context: dg.AssetExecutionContext,
    config: TFRecordConfig,
    storage: StorageResource,
    sneakers_marketplace: SneakersMarketplaceResource,
) -> dg.MaterializeResult:
    vocabulary = SneakerVocabulary.from_config(sneakers_marketplace.profile([]).vocabulary)
    listings_store, images_store = LISTINGS.store(storage), IMAGES.store(storage)
    images = {r["image_url"]: r for r in images_store.read().to_pylist()}
    rows, skipped = trainable_listings(listings_store.read().to_pylist(), images, vocabulary)
    provenance = {
        "skipped": skipped,
        "listings_table_version": listings_store.version(),
        "images_table_version": images_store.version(),
    }
    if not rows:
        raise dg.Failure(
            description="no trainable listings", metadata={"provenance": dg.MetadataValue.json(provenance)}
        )
    settings = config.to_dataclass()
    edges = assign_splits(rows, settings)
    split_result = SPLITS.store(storage).replace_all(splits_table(rows))
    uris = {split: TRAINING_SET.uri(storage, split) for split in SPLIT_NAMES}
    models, brands = vocabulary.models, vocabulary.brands
    metadata = {**provenance, "splits_table_version": split_result.version}
    counts, rate = write_shards(rows, uris, models, brands, edges, settings, metadata, context.log)
    context.log.info(f"wrote {counts} examples; skipped {skipped}")
    return dg.MaterializeResult(
        metadata={
            "examples": dg.MetadataValue.json(counts),
            "dagster/row_count": sum(counts.values()),
            "skipped": dg.MetadataValue.json(skipped),
            "tfrecords_uri": dg.MetadataValue.path(storage.uri("tfrecords", TRAINING_SET.name)),
            "price_quantile_edges": dg.MetadataValue.json([round(e, 2) for e in edges]),
            "models": len(models),
            "brands": len(brands),
            "listings_table_version": provenance["listings_table_version"],
            "images_table_version": provenance["images_table_version"],
            "splits_table_version": split_result.version,
            **rate,
        }
    )
