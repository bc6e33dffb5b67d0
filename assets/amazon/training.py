"""Recommenders, each fitted and evaluated on the same split of a dataset tag (temporal leave-last-out, or a global
time cut), then compared and the champion chosen on validation.

Each model publishes a version to the model store `amazon_<name>/<tag>` (metrics.json, per_user.npz with its
validation and test scores per user, and mult_dae.keras for the autoencoder); the comparison reads their latest
versions and publishes `amazon_comparison/<tag>` (comparison.md, champion.json: the validation champion, which the
recommendations page serves, and every model's test metrics with bootstrap intervals) and the
`amazon_model_metrics` rows. The work is models/amazon/training.py and comparison.py.
"""

import json

import dagster as dg
import numpy as np
import polars as pl

from assets.amazon.automation import MODEL_ASSETS, MODELS_CRON
from assets.amazon.dataset import amazon_dataset
from assets.amazon.partitions import dataset_partitions
from assets.amazon.resources import AmazonModelSettingsResource
from assets.amazon.tables import DATASET_RATINGS, MODEL_METRICS
from foundation.automation import derived_table, retrain
from foundation.resources import StorageResource
from foundation.storage.delta_tables import Window
from models.amazon.comparison import compare
from models.amazon.recommenders import Split, make_split
from models.amazon.training import MODEL_NAMES, PER_USER_FILE, headline_metrics, train_and_evaluate


def load_split(storage: StorageResource, tag: str, settings: AmazonModelSettingsResource | None = None) -> Split:
    """The split of a built dataset tag with its validation split, by the resource's protocol (leave-last-out
    ties drawn with `seed`; positives >= `min_rating`)."""
    settings = settings or AmazonModelSettingsResource()
    ratings = pl.from_arrow(DATASET_RATINGS.store(storage).read(Window.of("tag", tag)))
    if ratings.height == 0:
        raise dg.Failure(
            description=f"amazon_dataset_ratings has no rows for tag {tag!r}: build it first",
            metadata={"tag": tag},
        )
    try:
        return make_split(
            ratings,
            settings.split_protocol,
            seed=settings.seed,
            min_rating=settings.min_rating(),
            test_share=settings.test_share,
            validation_share=settings.validation_share,
        )
    except ValueError as err:
        raise dg.Failure(description=str(err), metadata={"tag": tag}) from err


CHAMPION_FILE = "champion.json"  # in amazon_comparison/<tag>: the validation champion and test intervals


def _model_asset(name: str, asset_name: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=asset_name,
        partitions_def=dataset_partitions,
        deps=[amazon_dataset],
        group_name="amazon",
        kinds={"keras" if name == "autoencoder" else "numpy"},
        description=f"The {name} recommender fitted on the tag's training split and ranked over the full catalogue.",
        # Training is the expensive step: at most daily, and only for tags whose dataset was rebuilt since.
        automation_condition=retrain(MODELS_CRON),
    )
    def _asset(
        context: dg.AssetExecutionContext,
        storage: StorageResource,
        amazon_model_settings: AmazonModelSettingsResource,
    ) -> dg.MaterializeResult:
        tag = context.partition_key
        split = load_split(storage, tag, amazon_model_settings)
        if name == "autoencoder":
            context.log.info(f"autoencoder: {amazon_model_settings.preset_choice().reason}")
        model = amazon_model_settings.make(name, context.log)
        validation_model = amazon_model_settings.make(name, context.log)  # a fresh copy for the validation fit
        store = storage.model_store(f"amazon_{name}", tag)
        data_versions = {
            "amazon_dataset": storage.model_store("amazon_dataset", tag).latest(),
            "amazon_dataset_ratings": DATASET_RATINGS.store(storage).version(),
        }
        params = amazon_model_settings.model_dump()
        with store.publish(context.run_id, data_versions=data_versions, params=params) as draft:
            report = train_and_evaluate(model, split, name, tag, draft.path, context.log, validation_model)
            draft.metrics = headline_metrics(report)
        return dg.MaterializeResult(
            metadata=headline_metrics(report)
            | {
                "fit_seconds": round(report["fit_seconds"], 2),
                "eval_seconds": round(report["eval_seconds"], 2),
                "test_users": report["test_users"],
                "validation_ndcg@10": round((report["validation_metrics"] or {}).get("ndcg@10", float("nan")), 4),
                "tied_share": report["tied_share"],
                "preset_reason": amazon_model_settings.preset_choice().reason,
                "settings": dg.MetadataValue.json(report["settings"]),
                "catalogue_items": report["items"],
                "model_version": draft.version,
                "model_folder": dg.MetadataValue.path(str(store.path(draft.version))),
            }
        )

    return _asset


def expected_settings(settings: AmazonModelSettingsResource) -> dict[str, dict]:
    """Per model, the settings a report made with the current resource records (autoencoder: before training)."""
    return {name: settings.make(name).settings() for name in MODEL_NAMES}  # epochs_trained is None here: unchecked


model_assets = [_model_asset(name, key) for name, key in zip(MODEL_NAMES, MODEL_ASSETS, strict=True)]


@dg.asset(
    partitions_def=dataset_partitions,
    deps=model_assets,
    group_name="amazon",
    kinds={"delta"},
    description="Every recommender of the tag side by side on the same split (markdown + Delta amazon_model_metrics); "
    "the champion by validation NDCG@10, with test metrics and bootstrap 95% intervals (champion.json).",
    automation_condition=derived_table(),  # cheap: follows the retrained models (in the same run at a cron tick)
)
def amazon_model_comparison(
    context: dg.AssetExecutionContext, storage: StorageResource, amazon_model_settings: AmazonModelSettingsResource
) -> dg.MaterializeResult:
    tag = context.partition_key
    stores = {name: storage.model_store(f"amazon_{name}", tag) for name in MODEL_NAMES}
    versions = {f"amazon_{name}": store.require() for name, store in stores.items()}
    reports = [json.loads(stores[name].read_text("metrics.json", versions[f"amazon_{name}"])) for name in MODEL_NAMES]
    per_user = {}
    for name in MODEL_NAMES:
        path = stores[name].path(versions[f"amazon_{name}"]) / PER_USER_FILE
        if path.exists():  # versions trained before validation existed have none
            with np.load(path) as saved:
                per_user[name] = dict(saved)
    try:  # refuses reports made on different splits (seed, threshold, data)
        comparison = compare(tag, reports, expected=expected_settings(amazon_model_settings), per_user=per_user)
    except ValueError as err:
        raise dg.Failure(description=str(err), metadata={"tag": tag}) from err
    selection = comparison.selection.to_json() if comparison.selection else None
    with storage.model_store("amazon_comparison", tag).publish(context.run_id, data_versions=versions) as draft:
        (draft.path / "comparison.md").write_text(comparison.markdown + "\n")
        (draft.path / CHAMPION_FILE).write_text(json.dumps(selection, indent=2))
        draft.metrics = {"champion": comparison.champion}
    result = MODEL_METRICS.store(storage).overwrite(comparison.rows, Window.of("tag", tag))
    context.log.info("\n" + comparison.table)
    return dg.MaterializeResult(
        metadata=result.metadata()
        | {
            "comparison": dg.MetadataValue.md(comparison.markdown),
            "ndcg_at_10_chart": dg.MetadataValue.md(comparison.ndcg_chart),
            "comparison_version": draft.version,
            "champion": comparison.champion or "(no validation scores: retrain the models)",
            "champion_is_baseline": bool(selection and selection["champion_is_baseline"]),
            "selection": dg.MetadataValue.json(selection or {}),
            "stale_settings": dg.MetadataValue.json(comparison.stale),
        }
    )
