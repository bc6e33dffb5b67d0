"""Scoring a new week's customers with the published next-basket model (never trains)."""

from collections.abc import Iterator

import dagster as dg
import polars as pl
import pyarrow.compute as pc
import pyarrow.dataset as pads

from assets.dunnhumby.automation import TRAINING_JOB_NAME
from assets.dunnhumby.ingestion import GROUP, dunnhumby_baskets, partition_weeks
from assets.dunnhumby.partitions import WEEK, week_partitions
from assets.dunnhumby.resources import DunnhumbyModelsResource
from assets.dunnhumby.tables import BASKETS, NEXT_BASKET_MODEL, NEXT_BASKET_SCORES
from assets.dunnhumby.training import dunnhumby_next_basket_model
from foundation.resources import StorageResource
from foundation.storage.delta_tables import Window
from models.dunnhumby.baskets import HISTORY_COLUMNS
from models.dunnhumby.next_basket_scoring import score_week


@dg.asset(
    group_name=GROUP,
    partitions_def=week_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dunnhumby_baskets, dunnhumby_next_basket_model],
    output_required=False,
    description="Top-k next-basket predictions for the customers of a new week, from the existing model.",
    kinds={"delta"},
)
def dunnhumby_next_basket_scores(
    context: dg.AssetExecutionContext, storage: StorageResource, dunnhumby_models: DunnhumbyModelsResource
) -> Iterator[dg.MaterializeResult]:
    """Never trains: loads the published model; without one the step is skipped (train with the training job)."""
    store = storage.model_store(NEXT_BASKET_MODEL)
    version = store.latest()
    if version is None:
        context.log.warning(f"no trained {NEXT_BASKET_MODEL} model yet; run {TRAINING_JOB_NAME} first; nothing scored")
        return
    from models.dunnhumby.next_basket import NextBasketModel  # Keras: only when there is a model

    model = NextBasketModel.load(store.path(version))
    weeks = partition_weeks(context)
    dataset = BASKETS.store(storage).dataset()
    frames = []
    for week in weeks:
        shoppers = dataset.to_table(
            columns=["CUST_CODE"], filter=(pads.field(WEEK) == week) & ~pads.field("IS_ANONYMOUS")
        )
        customers = pc.unique(shoppers["CUST_CODE"])
        # Each customer's history as it stood at the end of this week.
        history_rows = dataset.to_table(
            columns=HISTORY_COLUMNS,
            filter=(pads.field(WEEK) <= week) & pads.field("CUST_CODE").isin(customers.to_pylist()),
        )
        frames.append(score_week(model, history_rows, week, version, dunnhumby_models.top_k))
    scores = pl.concat(frames)
    result = NEXT_BASKET_SCORES.store(storage).overwrite(scores.to_arrow(), Window.of(WEEK, *weeks))
    yield dg.MaterializeResult(
        metadata=result.metadata()
        | {
            "model_version": version,
            "customers_scored": scores["CUST_CODE"].n_unique(),
            "top_k": dunnhumby_models.top_k,
        }
    )
