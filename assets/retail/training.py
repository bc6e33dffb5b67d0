"""Item-item sequence examples and the two-tower retrieval model trained on them, next to baselines."""

from dataclasses import asdict

import dagster as dg

from assets.retail.automation import TRAINING_CRON
from assets.retail.ingestion import retail_catalogue
from assets.retail.linkage import retail_transactions
from assets.retail.tables import CATALOGUE, ENTITY_TRANSACTIONS, ITEM_ITEM_EXAMPLES, TWO_TOWER_MODEL
from foundation.automation import retrain
from foundation.progress import Progress, keras_progress
from foundation.resources import StorageResource
from foundation.run_config import run_config_for
from foundation.storage.tfrecords import read_manifest
from models.retail.config import TwoTowerConfig
from models.retail.retrieval import catalogue_features, train_and_evaluate
from models.retail.sequences import read_examples, split_examples, write_examples

TwoTowerTrainingConfig = run_config_for(TwoTowerConfig, "TwoTowerTrainingConfig")


@dg.asset(
    deps=[dg.AssetDep(retail_transactions, partition_mapping=dg.AllPartitionMapping())],
    group_name="retail",
    kinds={"tfrecord"},
    automation_condition=dg.AutomationCondition.eager(),
    description="Item-item sequence TFRecords (context_* of the last 10 purchases -> label_item_id); "
    "the last purchase of each entity is the test example.",
)
def item_item_examples(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    source = ENTITY_TRANSACTIONS.store(storage)
    transactions = source.read().to_pandas()
    with Progress(context.log, "transactions turned into sequence examples", len(transactions)) as building:
        train, test, stats = split_examples(transactions)
        building.advance(len(transactions))
    meta = {"source_table_version": source.version(), "split": "last purchase per entity held out"}
    train_uri, test_uri = ITEM_ITEM_EXAMPLES.uri(storage, "train"), ITEM_ITEM_EXAMPLES.uri(storage, "test")
    with Progress(context.log, "examples written", len(train) + len(test)) as writing:
        writing.advance(write_examples(train_uri, train, meta))
        writing.advance(write_examples(test_uri, test, meta))
    return dg.MaterializeResult(
        metadata={
            "train_examples": stats.train_examples,
            "test_examples": stats.test_examples,
            "entities": stats.entities,
            "entities_too_short": stats.entities_too_short,
            "dagster/row_count": stats.train_examples + stats.test_examples,
            "train_uri": dg.MetadataValue.path(train_uri),
            "test_uri": dg.MetadataValue.path(test_uri),
        }
    )


@dg.asset(
    deps=[item_item_examples, retail_catalogue],
    group_name="retail",
    kinds={"keras", "tensorflow"},
    description="Keras 3 two-tower retrieval (GRU over the last 10 purchases) with a brute-force top-10 index, "
    "evaluated by full-catalogue ranking next to most-popular, last-item transition and co-occurrence.",
    # The eager tables above follow every store delivery; training runs at most weekly, once they have changed.
    automation_condition=retrain(TRAINING_CRON),
)
def two_tower_model(
    context: dg.AssetExecutionContext, config: TwoTowerTrainingConfig, storage: StorageResource
) -> dg.MaterializeResult:
    catalogue = CATALOGUE.store(storage)
    features = catalogue_features(catalogue.read().to_pandas())
    train_uri, test_uri = ITEM_ITEM_EXAMPLES.uri(storage, "train"), ITEM_ITEM_EXAMPLES.uri(storage, "test")
    train_arrays, test_arrays = read_examples(train_uri), read_examples(test_uri)
    settings = config.to_dataclass()
    progress = keras_progress(context.log, "two-tower model", batch_size=settings.batch_size)
    run = train_and_evaluate(features, train_arrays, test_arrays, settings, callbacks=[progress])

    store = storage.model_store(TWO_TOWER_MODEL)
    data_versions = {
        CATALOGUE.name: catalogue.version(),
        ENTITY_TRANSACTIONS.name: read_manifest(train_uri).metadata.get("source_table_version"),
    }
    with store.publish(context.run_id, data_versions=data_versions, params=asdict(settings)) as draft:
        run.save(draft.path)
        draft.metrics = run.summary()
    return dg.MaterializeResult(
        metadata={
            "model_dir": dg.MetadataValue.path(f"{store.uri}/{draft.version}"),
            "model_version": draft.version,
            "evaluation": dg.MetadataValue.md(run.evaluation_markdown()),
            "hit_rate_plot": dg.MetadataValue.md(run.hit_rate_chart()),
            **run.summary(),
        }
    )
