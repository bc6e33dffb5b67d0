"""Scoring new weeks with the published models, never training: next-basket predictions for the week's
customers, and shopping missions for the week's baskets."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars as pl
import pyarrow.compute as pc
import pyarrow.dataset as pads

from assets.dunnhumby.automation import TRAINING_JOB_NAME
from assets.dunnhumby.ingestion import GROUP, dunnhumby_baskets, partition_weeks
from assets.dunnhumby.partitions import WEEK, week_partitions
from assets.dunnhumby.resources import DunnhumbyModelsResource
from assets.dunnhumby.tables import (
    BASKET_MISSIONS,
    BASKETS,
    MISSION_MODEL,
    NEXT_BASKET_MODEL,
    NEXT_BASKET_SCORES,
    WEEK_MISSIONS,
)
from assets.dunnhumby.training import dunnhumby_next_basket_model
from foundation.resources import StorageResource
from foundation.storage.delta_tables import Window
from models.dunnhumby.baskets import HISTORY_COLUMNS
from models.dunnhumby.next_basket_scoring import score_weeks


def _published(
    context: dg.AssetExecutionContext, storage: StorageResource, name: str, otherwise: str
) -> tuple[str, Path] | None:
    """(version, local folder) of the latest published model `name`; None, with a warning saying what is not
    done, when none was trained yet (scoring never trains)."""
    store = storage.model_store(name)
    version = store.latest()
    if version is None:
        context.log.warning(f"no trained {name} model yet; run {TRAINING_JOB_NAME} first; {otherwise}")
        return None
    return version, store.path(version)


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
    """Never trains: loads the published champion; without one the step is skipped (train with the training job).
    Week W's rows predict each of W's customers' next basket AFTER W, from their baskets through W. A range run
    over already ingested weeks is the backfill (`storefront dunnhumby-history` runs it after the first model)."""
    published = _published(context, storage, NEXT_BASKET_MODEL, "nothing scored")
    if published is None:
        return
    from models.dunnhumby.next_basket_selection import ServedNextBasket

    version, folder = published
    model = ServedNextBasket.load(folder)
    weeks = partition_weeks(context)
    history = (
        BASKETS.store(storage)
        .dataset()
        .to_table(columns=HISTORY_COLUMNS, filter=(pads.field(WEEK) <= max(weeks)) & ~pads.field("IS_ANONYMOUS"))
    )
    scores = score_weeks(model, history, weeks, version, dunnhumby_models.top_k)
    result = NEXT_BASKET_SCORES.store(storage).overwrite(scores.to_arrow(), Window.of(WEEK, *weeks))
    yield dg.MaterializeResult(
        metadata=result.metadata()
        | {
            "model_version": version,
            "served_model": model.kind,
            "customers_scored": scores["CUST_CODE"].n_unique(),
            "top_k": dunnhumby_models.top_k,
            "meaning": "rows of week W = top-k for each customer's next basket after W, from baskets through W",
        }
    )


@dg.asset(
    group_name=GROUP,
    partitions_def=week_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dunnhumby_baskets, dg.AssetKey(BASKET_MISSIONS.name)],
    output_required=False,
    description="Missions for a new week's baskets from the published LDA (MissionModel.load; no refit, so mission "
    "ids stay those of the model); baskets of only unknown products are flagged, not given a mission.",
    kinds={"delta"},
)
def dunnhumby_week_missions(
    context: dg.AssetExecutionContext, storage: StorageResource
) -> Iterator[dg.MaterializeResult]:
    published = _published(context, storage, MISSION_MODEL, "no missions assigned")
    if published is None:
        return
    from models.dunnhumby.mission_training import week_missions
    from models.dunnhumby.missions import MissionModel

    version, folder = published
    model = MissionModel.load(folder)
    weeks = partition_weeks(context)
    baskets = pl.from_arrow(
        BASKETS.store(storage)
        .dataset()
        .to_table(
            columns=["SHOP_WEEK", "BASKET_ID", "CUST_CODE", "PRODUCTS", "QUANTITIES"],
            filter=pads.field(WEEK).isin(weeks),
        )
    ).sort("SHOP_WEEK", "BASKET_ID")
    rows = week_missions(model, baskets, version)
    result = WEEK_MISSIONS.store(storage).overwrite(rows, Window.of(WEEK, *weeks))
    flagged = int(pc.sum(rows["UNKNOWN_PRODUCTS_ONLY"]).as_py() or 0)
    yield dg.MaterializeResult(
        metadata=result.metadata()
        | {"model_version": version, "baskets": rows.num_rows, "unknown_products_only_baskets": flagged}
    )
