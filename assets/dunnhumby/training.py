"""Training: customer basket sequences, the LDA shopping missions and the next-basket model. Each retrains
at most weekly and only after new weeks (`retrain(RETRAIN_CRON)`), or with dunnhumby_training_job."""

from collections.abc import Iterator
from dataclasses import asdict

import dagster as dg
import numpy as np
import polars as pl

from assets.dunnhumby.automation import RETRAIN_CRON
from assets.dunnhumby.ingestion import GROUP, dunnhumby_baskets, dunnhumby_transactions
from assets.dunnhumby.resources import DunnhumbyModelsResource
from assets.dunnhumby.tables import (
    BASKET_MISSIONS,
    BASKETS,
    MISSION_MODEL,
    MISSION_PROFILES,
    MISSION_TOP_PRODUCTS,
    NEXT_BASKET_MODEL,
    SEQUENCES,
    TRANSACTIONS,
)
from foundation.automation import retrain
from foundation.charts import markdown_image
from foundation.progress import keras_progress
from foundation.resources import StorageResource
from foundation.tables import DeltaTableSpec
from models.dunnhumby.baskets import HISTORY_COLUMNS, customer_sequences
from models.dunnhumby.mission_training import PROFILE_LINE_COLUMNS, dominant_mission_index_markdown, train_missions


@dg.asset(
    group_name=GROUP,
    deps=[dunnhumby_baskets],
    description="Each known customer's baskets in time order (anonymous baskets belong to no one).",
    kinds={"delta"},
    automation_condition=retrain(RETRAIN_CRON),  # only the model reads it: rebuilt with it, not per new week
)
def dunnhumby_customer_basket_sequences(storage: StorageResource) -> dg.MaterializeResult:
    baskets = BASKETS.store(storage).read(columns=HISTORY_COLUMNS)
    sequences = customer_sequences(baskets)
    result = SEQUENCES.store(storage).replace_all(sequences)
    lengths = sequences["N_BASKETS"].to_numpy()
    return dg.MaterializeResult(
        metadata=result.metadata()
        | {
            "customers": sequences.num_rows,
            "median_baskets_per_customer": float(np.median(lengths)) if len(lengths) else 0.0,
            "customers_with_3_or_more_baskets": int((lengths >= 3).sum()),
        }
    )


def _mission_output(table: DeltaTableSpec, description: str, deps: list[dg.AssetsDefinition]) -> dg.AssetSpec:
    return dg.AssetSpec(
        table.name,
        automation_condition=retrain(RETRAIN_CRON),  # LDA over every basket: weekly at most
        deps=deps,
        description=description,
        kinds={"delta"},
    )


@dg.multi_asset(
    group_name=GROUP,
    specs=[
        _mission_output(BASKET_MISSIONS, "Every basket's LDA shopping mission.", [dunnhumby_baskets]),
        _mission_output(
            MISSION_PROFILES, "Mission index tables (100 = average).", [dunnhumby_baskets, dunnhumby_transactions]
        ),
        _mission_output(MISSION_TOP_PRODUCTS, "Top products per mission.", [dunnhumby_baskets]),
    ],
)
def dunnhumby_shopping_missions(
    context: dg.AssetExecutionContext, storage: StorageResource, dunnhumby_models: DunnhumbyModelsResource
) -> Iterator[dg.MaterializeResult]:
    """LDA with k chosen by held-out perplexity; agreement with the dataset's own labels next to random."""
    baskets_store = BASKETS.store(storage)
    baskets_version = baskets_store.version() if baskets_store.exists() else None
    baskets = pl.from_arrow(baskets_store.read())
    if baskets.height == 0:
        raise dg.Failure(
            description="dunnhumby_baskets is empty: ingest some weeks first",
            metadata={"baskets_table_version": baskets_version},
        )
    settings = {
        "k_grid": dunnhumby_models.mission_k_grid,
        "max_iter": dunnhumby_models.mission_max_iter,
        "learning_method": dunnhumby_models.mission_learning_method,
        "fit_max_baskets": dunnhumby_models.mission_fit_max_baskets,
    }
    run = train_missions(baskets, **settings)
    store = storage.model_store(MISSION_MODEL)
    with store.publish(context.run_id, data_versions={BASKETS.name: baskets_version}, params=settings) as draft:
        run.model.save(draft.path)  # the vectoriser travels with the LDA
        draft.metrics = run.report()
    version = draft.version

    write = BASKET_MISSIONS.store(storage).replace_all(run.basket_missions(version))
    yield dg.MaterializeResult(
        asset_key=BASKET_MISSIONS.name,
        metadata=write.metadata()
        | {"model_version": version}
        | {k: dg.MetadataValue.json(v) if isinstance(v, dict) else v for k, v in run.summary().items()}
        | {
            "perplexity_plot": dg.MetadataValue.md(markdown_image(run.perplexity_chart(), "perplexity by k")),
            "fit_seconds": round(run.model.fit_seconds, 2),
        },
    )

    lines = pl.from_arrow(TRANSACTIONS.store(storage).read(columns=PROFILE_LINE_COLUMNS))
    profiles = run.profiles(lines, version)
    write = MISSION_PROFILES.store(storage).replace_all(profiles.to_arrow())
    yield dg.MaterializeResult(
        asset_key=MISSION_PROFILES.name,
        metadata=write.metadata()
        | {
            "index_by_dominant_mission": dg.MetadataValue.md(dominant_mission_index_markdown(profiles)),
            "model_version": version,
        },
    )

    write = MISSION_TOP_PRODUCTS.store(storage).replace_all(run.top_products(version))
    yield dg.MaterializeResult(
        asset_key=MISSION_TOP_PRODUCTS.name, metadata=write.metadata() | {"model_version": version}
    )


@dg.asset(
    group_name=GROUP,
    deps=[dunnhumby_customer_basket_sequences],
    description="Embedding + BiLSTM + attention next-basket model, next to G/P/GP-TopFreq on the same split.",
    kinds={"keras"},
    automation_condition=retrain(RETRAIN_CRON),  # expensive Keras training: weekly at most, only after new weeks
)
def dunnhumby_next_basket_model(
    context: dg.AssetExecutionContext, storage: StorageResource, dunnhumby_models: DunnhumbyModelsResource
) -> dg.MaterializeResult:
    from models.dunnhumby.next_basket_training import split_sequences, train_next_basket  # Keras

    config = dunnhumby_models.next_basket_config()
    sequences_store = SEQUENCES.store(storage)
    sequences_version = sequences_store.version() if sequences_store.exists() else None
    split = split_sequences(sequences_store.read(columns=["CUST_CODE", "BASKETS"]), config.min_baskets)
    if not split.customers:
        raise dg.Failure(
            description=f"no customer has {config.min_baskets} baskets yet: ingest more weeks first",
            metadata={"min_baskets": config.min_baskets, "sequences_table_version": sequences_version},
        )
    run = train_next_basket(
        split, config, callbacks=[keras_progress(context.log, "next-basket model", config.batch_size)]
    )
    store = storage.model_store(NEXT_BASKET_MODEL)
    data_versions = {SEQUENCES.name: sequences_version}
    with store.publish(context.run_id, data_versions=data_versions, params=asdict(config)) as draft:
        run.save(draft.path)
        draft.metrics = run.results
    folder = store.path(draft.version)
    return dg.MaterializeResult(
        metadata={"model_version": draft.version, "model_path": dg.MetadataValue.path(str(folder))}
        | run.summary()
        | {
            "results": dg.MetadataValue.md(run.results_markdown()),
            "recall_plot": dg.MetadataValue.md(markdown_image(run.recall_chart(), "recall by method")),
        }
    )
