"""Item-item sequence examples and the served champion: the two-tower retrieval model or a baseline that beats it."""

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
from models.retail.config import TwoTowerConfig, resolve_config
from models.retail.retrieval import catalogue_features, train_and_evaluate
from models.retail.sequences import SPLITS, SplitSettings, read_examples, split_examples, write_examples

TwoTowerTrainingConfig = run_config_for(TwoTowerConfig, "TwoTowerTrainingConfig")
ExampleSplitConfig = run_config_for(SplitSettings, "ExampleSplitConfig")


@dg.asset(
    deps=[dg.AssetDep(retail_transactions, partition_mapping=dg.AllPartitionMapping())],
    group_name="retail",
    kinds={"tfrecord"},
    automation_condition=dg.AutomationCondition.eager(),
    description="Item-item sequence TFRecords (context_* of the last 10 purchases -> label_item_id) in train, "
    "validation and test partitions: per entity the last purchase is the test example and the one before it the "
    "validation example (`protocol: global_time`: two time cuts over all purchases instead).",
)
def item_item_examples(
    context: dg.AssetExecutionContext, config: ExampleSplitConfig, storage: StorageResource
) -> dg.MaterializeResult:
    source = ENTITY_TRANSACTIONS.store(storage)
    transactions = source.read().to_pandas()
    settings = config.to_dataclass()
    with Progress(context.log, "transactions turned into sequence examples", len(transactions)) as building:
        split = split_examples(transactions, settings.protocol, settings.validation_share, settings.test_share)
        building.advance(len(transactions))
    meta = {"source_table_version": source.version(), "split": asdict(settings) | split.stats.metadata()}
    uris = {name: ITEM_ITEM_EXAMPLES.uri(storage, name) for name in SPLITS}
    parts = split.parts()
    with Progress(context.log, "examples written", sum(map(len, parts.values()))) as writing:
        for name, uri in uris.items():
            writing.advance(write_examples(uri, parts[name], meta))
    return dg.MaterializeResult(
        metadata={
            **{f"{name}_examples": len(parts[name]) for name in SPLITS},
            "protocol": settings.protocol,
            "entities": split.stats.entities,
            "entities_too_short": split.stats.entities_too_short,
            "dagster/row_count": sum(map(len, parts.values())),
            **{f"{name}_uri": dg.MetadataValue.path(uri) for name, uri in uris.items()},
        }
    )


@dg.asset(
    deps=[item_item_examples, retail_catalogue],
    group_name="retail",
    kinds={"keras", "tensorflow"},
    description="Keras 3 two-tower retrieval (GRU over the last 10 purchases) with a brute-force top-10 index, next "
    "to most-popular, last-item transition and co-occurrence; the champion on validation NDCG@10 (possibly a "
    "baseline) is what the shop serves; test metrics with bootstrap 95% intervals.",
    # The eager tables above follow every store delivery; training runs at most weekly, once they have changed.
    automation_condition=retrain(TRAINING_CRON),
)
def two_tower_model(
    context: dg.AssetExecutionContext, config: TwoTowerTrainingConfig, storage: StorageResource
) -> dg.MaterializeResult:
    catalogue = CATALOGUE.store(storage)
    features = catalogue_features(catalogue.read().to_pandas())
    uris = {name: ITEM_ITEM_EXAMPLES.uri(storage, name) for name in SPLITS}
    arrays = {name: read_examples(uri) for name, uri in uris.items()}
    # An unset preset is chosen by the hardware; fields set in the run config override the preset's.
    settings, preset = resolve_config(config.to_dataclass(), explicit=config.model_fields_set)
    context.log.info(f"two-tower training: {preset.reason}; {asdict(settings)}")
    progress = keras_progress(context.log, "two-tower model", batch_size=settings.batch_size)
    split_meta = read_manifest(uris["train"]).metadata
    run = train_and_evaluate(
        features,
        arrays["train"],
        arrays["validation"],
        arrays["test"],
        settings,
        callbacks=[progress],
        settings={"preset_reason": preset.reason, "split": split_meta.get("split")},
    )
    context.log.info(f"champion on validation: {run.champion}")

    store = storage.model_store(TWO_TOWER_MODEL)
    data_versions = {
        CATALOGUE.name: catalogue.version(),
        ENTITY_TRANSACTIONS.name: split_meta.get("source_table_version"),
    }
    with store.publish(context.run_id, data_versions=data_versions, params=asdict(settings)) as draft:
        run.save(draft.path)
        draft.metrics = run.summary()
    return dg.MaterializeResult(
        metadata={
            "model_dir": dg.MetadataValue.path(f"{store.uri}/{draft.version}"),
            "model_version": draft.version,
            "served_model": run.champion,
            "preset": settings.preset,
            "preset_reason": preset.reason,
            "evaluation": dg.MetadataValue.md(run.evaluation_markdown()),
            "comparison": dg.MetadataValue.json(run.comparison.to_json()),
            "ndcg_plot": dg.MetadataValue.md(run.ndcg_chart()),
            **run.summary(),
        }
    )
