"""Models: one multi-head CNN per version of the model store `sneaker_cnn`; its stacked meta-models,
predictions and evaluation are added to the same version."""

import json
from dataclasses import asdict

import dagster as dg
import pyarrow.compute as pc

from assets.sneakers.automation import CNN_CRON
from assets.sneakers.dataset import sneaker_tfrecords
from assets.sneakers.partitions import GROUP
from assets.sneakers.tables import CNN_MODEL, PREDICTIONS, SPLITS, TRAINING_SET
from foundation.automation import derived_table, retrain
from foundation.model_store import ModelNotFound, ModelStore
from foundation.resources import StorageResource
from foundation.run_config import run_config_for
from foundation.storage.delta_tables import Window
from models.sneakers.dataset import SPLITS as SPLIT_NAMES
from models.sneakers.training import CNNTrainingSettings

CNNTrainingConfig = run_config_for(CNNTrainingSettings, "CNNTrainingConfig")


class ModelVersionConfig(dg.Config):
    model_version: str | None = None  # None: the latest trained version


def _cnn_version(storage: StorageResource, requested: str | None) -> tuple[ModelStore, str]:
    """The CNN's model store and the requested version in it, or the latest; a run failure when there is none."""
    store = storage.model_store(CNN_MODEL)
    try:
        if requested and requested not in store.versions():
            raise ModelNotFound(f"no published version {requested} in {store.uri}")
        return store, store.require(requested)
    except ModelNotFound as err:
        raise dg.Failure(
            description=str(err) if requested else "no sneaker_cnn has been trained yet",
            metadata={"model_store": store.uri, "published_versions": dg.MetadataValue.json(store.versions())},
        ) from err


@dg.asset(
    group_name=GROUP,
    deps=[sneaker_tfrecords],
    kinds={"keras", "tensorflow"},
    # Hours of CNN training with the full network: at most weekly (Monday 07:00 UTC, after the 06:00 scrape),
    # and only after a new training set.
    automation_condition=retrain(CNN_CRON),
    description="Keras 3 CNN: shared convolutional trunk, softmax heads for price bins, price quantiles, model, brand.",
)
def sneaker_cnn(
    context: dg.AssetExecutionContext, config: CNNTrainingConfig, storage: StorageResource
) -> dg.MaterializeResult:
    from models.sneakers.training import train_and_save, training_data_versions

    train, validation = TRAINING_SET.uri(storage, "train"), TRAINING_SET.uri(storage, "validation")
    settings = config.to_dataclass()
    architecture, reason = settings.resolved()
    context.log.info(f"sneaker_cnn: {reason}")
    data_versions = training_data_versions(train)
    store = storage.model_store(CNN_MODEL)
    with store.publish(
        context.run_id, data_versions=data_versions, params=asdict(settings) | {"architecture": architecture}
    ) as draft:
        trained = train_and_save(train, validation, settings, draft.path, draft.version, context.log)
        draft.metrics = {"validation_accuracy": trained.validation_accuracy, "best_epoch": trained.best_epoch}
    return dg.MaterializeResult(
        metadata={
            "model_version": draft.version,
            "model_path": dg.MetadataValue.path(str(store.path(draft.version) / "model.keras")),
            "architecture": architecture,
            "architecture_choice": reason,
            "epochs_run": trained.result.epochs,
            "best_epoch": trained.best_epoch,
            "train_seconds": round(trained.result.seconds, 1),
            "train_images_per_second": round(trained.result.images_per_second, 1),
            "validation_accuracy": dg.MetadataValue.json(trained.validation_accuracy),
            "trained_from_splits_table_version": data_versions["splits_table_version"],
        }
    )


@dg.asset(
    group_name=GROUP,
    deps=[sneaker_cnn],
    kinds={"scikitlearn"},
    automation_condition=derived_table(),  # follows the CNN it stacks on, in the same tick
    description="Per head, a logistic-regression stack on out-of-fold CNN probabilities (+ title model/brand and the "
    "training split's per-model prices for price heads), and each head's champion on validation (it may be a baseline).",
)
def sneaker_meta_models(
    context: dg.AssetExecutionContext, config: ModelVersionConfig, storage: StorageResource
) -> dg.MaterializeResult:
    from models.sneakers import cnn
    from models.sneakers.champions import (
        BASELINES_FILE,
        CHAMPIONS_FILE,
        Baselines,
        champions_summary,
        validation_champions,
    )
    from models.sneakers.stacking import META_MODELS_FILE, fit_stack

    store, version = _cnn_version(storage, config.model_version)
    model, settings, info = cnn.load(store.path(version))
    ids, probabilities, labels = cnn.predict(model, TRAINING_SET.uri(storage, "validation"), settings)
    listings = {r["listing_id"]: r for r in SPLITS.store(storage).read().to_pylist()}
    # The baselines and the stack's per-model prices come from the training split alone (no validation prices).
    baselines = Baselines.fit(list(listings.values()), info["vocabularies"], info["price_quantile_edges"])
    model_prices = baselines.model_prices({h: p.shape[1] for h, p in probabilities.items()})
    stack, oof_scores = fit_stack(probabilities, labels, settings.heads, model_prices)
    comparisons = validation_champions(
        settings.heads, [listings[i] for i in ids], probabilities, stack.oof, labels, baselines
    )
    champions = champions_summary(comparisons)
    for name, data in stack.files().items():
        store.add_file(version, name, data)
    store.add_file(version, BASELINES_FILE, baselines.to_bytes())
    store.add_file(version, CHAMPIONS_FILE, json.dumps(champions, indent=1))
    for head, chosen in champions.items():
        kind = "a baseline" if chosen["champion_is_baseline"] else "a learned model"
        context.log.info(f"{head}: serving {chosen['champion']} ({kind}), best validation accuracy")
    return dg.MaterializeResult(
        metadata={
            "model_version": version,
            "validation_rows": int(len(labels[settings.heads[0]])),
            "validation_accuracy_out_of_fold": dg.MetadataValue.json(oof_scores),
            "champions": dg.MetadataValue.json(champions),
            "served_baselines": dg.MetadataValue.json(
                sorted(h for h, c in champions.items() if c["champion_is_baseline"])
            ),
            "meta_models_path": dg.MetadataValue.path(f"{store.uri}/{version}/{META_MODELS_FILE}"),
        }
    )


@dg.asset(
    group_name=GROUP,
    deps=[sneaker_meta_models],
    kinds={"delta"},
    automation_condition=derived_table(),  # follows the CNN it stacks on, in the same tick
    description="Per listing and head: CNN and stacked class probabilities and the served champion's class, keyed by "
    "listing id and model version.",
)
def sneaker_predictions(
    context: dg.AssetExecutionContext, config: ModelVersionConfig, storage: StorageResource
) -> dg.MaterializeResult:
    from models.sneakers import cnn
    from models.sneakers.champions import BASELINES_FILE, CHAMPIONS_FILE, Baselines
    from models.sneakers.predictions import predictions_table
    from models.sneakers.stacking import Stack

    store, version = _cnn_version(storage, config.model_version)
    model, settings, info = cnn.load(store.path(version))
    stack = Stack.from_files(lambda name: store.read_bytes(name, version))
    champions = {h: c["champion"] for h, c in json.loads(store.read_text(CHAMPIONS_FILE, version)).items()}
    baselines = Baselines.from_bytes(store.read_bytes(BASELINES_FILE, version))
    listings = {r["listing_id"]: r for r in SPLITS.store(storage).read().to_pylist()}
    uris = {split: TRAINING_SET.uri(storage, split) for split in SPLIT_NAMES}
    table = predictions_table(
        model, settings, stack, info["vocabularies"], version, uris, context.log, champions, baselines, listings
    )
    result = PREDICTIONS.store(storage).overwrite(table, Window.of("model_version", version))
    return dg.MaterializeResult(
        metadata=result.metadata() | {"model_version": version, "served_by": dg.MetadataValue.json(champions)}
    )


@dg.asset(
    group_name=GROUP,
    deps=[sneaker_predictions],
    automation_condition=derived_table(),  # follows the CNN it stacks on, in the same tick
    description="Accuracy, macro F1 and top-3 per head on the held-out test split, next to majority, title-only and "
    "median-model-price baselines; every candidate's test accuracy with a bootstrap 95% interval; a confusion matrix.",
)
def sneaker_evaluation(
    context: dg.AssetExecutionContext, config: ModelVersionConfig, storage: StorageResource
) -> dg.MaterializeResult:
    from models.sneakers.evaluation import evaluate

    store, version = _cnn_version(storage, config.model_version)
    info = json.loads(store.read_text("model.json", version))
    predictions = PREDICTIONS.store(storage).read(Window.of("model_version", version))
    scored = predictions.filter(pc.field("split").isin(["validation", "test"])).to_pylist()
    splits = {r["listing_id"]: r for r in SPLITS.store(storage).read().to_pylist()}
    evaluation = evaluate(scored, splits, info["vocabularies"], info["price_quantile_edges"])
    report = evaluation.report(version)
    store.add_file(version, "evaluation.md", report)
    champions = evaluation.champions()
    store.add_file(version, "comparison.json", json.dumps(champions, indent=1))
    return dg.MaterializeResult(
        metadata={
            "model_version": version,
            "test_rows": evaluation.test_rows,
            "report": dg.MetadataValue.md(report),
            "metrics": dg.MetadataValue.json(evaluation.results),
            "champions": dg.MetadataValue.json(champions),
            "served": dg.MetadataValue.json(
                {h: c["champion"] + (" (baseline)" if c["champion_is_baseline"] else "") for h, c in champions.items()}
            ),
            "cnn_beats_majority": dg.MetadataValue.json(evaluation.cnn_beats_majority()),
        }
    )
