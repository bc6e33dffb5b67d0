"""Training: customer basket sequences, the LDA shopping missions and the next-basket model. Each retrains
at most weekly and only after new weeks (`retrain(RETRAIN_CRON)`), or with dunnhumby_training_job."""

import time
from collections.abc import Iterator

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
from foundation.charts import bar_chart_png, markdown_image
from foundation.resources import StorageResource
from foundation.tables import DeltaTableSpec
from models.dunnhumby.baskets import HISTORY_COLUMNS, customer_sequences
from models.dunnhumby.mission_training import (
    PROFILE_LINE_COLUMNS,
    dominant_mission_index_markdown,
    hierarchy_levels,
    train_missions,
)
from models.dunnhumby.missions import GRANULARITIES


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
        "granularity": dunnhumby_models.mission_granularity,
    }
    granularity = dunnhumby_models.mission_granularity
    if granularity not in GRANULARITIES:
        raise dg.Failure(description=f"mission_granularity {granularity!r} is not one of {sorted(GRANULARITIES)}")
    hierarchy = None  # coarser words than products need each product's code, from the transaction lines
    if GRANULARITIES[granularity] != "PROD_CODE":
        lines = TRANSACTIONS.store(storage).read(columns=["PROD_CODE", GRANULARITIES[granularity]])
        hierarchy = hierarchy_levels(pl.from_arrow(lines), granularity)
    run = train_missions(baskets, **settings, levels=hierarchy)
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
    description="The next-basket champion chosen on validation weeks among G/P/GP-TopFreq, TIFU-KNN and the "
    "repeat/explore network; test metrics with bootstrap intervals. It may be a baseline.",
    kinds={"keras"},
    automation_condition=retrain(RETRAIN_CRON),  # weekly at most, only after new weeks; preset sized to the machine
)
def dunnhumby_next_basket_model(
    context: dg.AssetExecutionContext, storage: StorageResource, dunnhumby_models: DunnhumbyModelsResource
) -> dg.MaterializeResult:
    from models.dunnhumby.basket_log import BasketLog
    from models.dunnhumby.next_basket_selection import select_next_basket

    config, choice = dunnhumby_models.next_basket_config()
    context.log.info(f"next-basket preset: {choice.reason}")
    sequences_store = SEQUENCES.store(storage)
    sequences_version = sequences_store.version() if sequences_store.exists() else None
    log = BasketLog.from_sequences(sequences_store.read(columns=["CUST_CODE", "SHOP_WEEKS", "BASKETS"]))
    needed = config.validation_weeks + config.test_weeks + 2
    if len(log.weeks) < needed:
        raise dg.Failure(
            description=f"{len(log.weeks)} weeks of baskets; preset {choice.preset!r} needs {needed} "
            f"({config.validation_weeks} validation + {config.test_weeks} test + 2 training): ingest more weeks",
            metadata={"weeks": len(log.weeks), "sequences_table_version": sequences_version},
        )
    started = time.perf_counter()
    run = select_next_basket(log, config, log_line=context.log.info)
    seconds = round(time.perf_counter() - started, 1)
    store = storage.model_store(NEXT_BASKET_MODEL)
    params = {"preset": choice.preset, "preset_reason": choice.reason} | config.to_json()
    with store.publish(context.run_id, data_versions={SEQUENCES.name: sequences_version}, params=params) as draft:
        run.save(draft.path)
        draft.metrics = run.report()
    folder = store.path(draft.version)
    k = config.top_k
    served = run.served.kind
    return dg.MaterializeResult(
        metadata={
            "model_version": draft.version,
            "model_path": dg.MetadataValue.path(str(folder)),
            "served_model": served + (" (a baseline: it beat every learned model on validation)"
                                      if run.comparison.champion_is_baseline else ""),
            "preset": choice.preset,
            "preset_reason": choice.reason,
            "selection_seconds": seconds,
            "weeks": dg.MetadataValue.json(run.split.to_json()),
        }
        | run.summary()
        | {
            "comparison": dg.MetadataValue.md(run.markdown()),
            "test_ndcg_plot": dg.MetadataValue.md(
                markdown_image(
                    bar_chart_png({n: m[f"ndcg@{k}"].mean for n, m in run.comparison.test.items()},
                                  f"test NDCG@{k} (champion on validation: {served})"),
                    "test NDCG by candidate",
                )
            ),
        }
    )  # fmt: skip
