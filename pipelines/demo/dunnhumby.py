"""dunnhumby demo: sandbox weeks land, are ingested as one range run, models train, then a new week lands
and is scored with the model just trained."""

from assets.dunnhumby.partitions import week_partitions
from assets.dunnhumby.resources import DunnhumbyModelsResource
from assets.dunnhumby.tables import LANDING_SOURCE
from pipelines.demo import DemoContext
from sandbox.dunnhumby import DunnhumbySandbox, write_calendar
from scrapers.dunnhumby.week_files import shop_weeks

DEMO_WEEKS = 10
INGEST = ["dunnhumby_transactions", "dunnhumby_baskets", "dunnhumby_next_basket_scores", "dunnhumby_week_missions"]
TRAINING = [
    "dunnhumby_customer_basket_sequences",
    "dunnhumby_basket_missions",
    "dunnhumby_mission_profiles",
    "dunnhumby_mission_top_products",
    "dunnhumby_next_basket_model",
]


def run(ctx: DemoContext) -> None:
    """Sandbox weeks land, are ingested as one range run, models train, then a new week lands and is scored."""
    resources = {
        "dunnhumby_models": DunnhumbyModelsResource(mission_k_grid=[4, 6, 8], next_basket_preset="small")
    }  # 9 weeks: 2 validation, 2 test
    sandbox = DunnhumbySandbox(seed=7, n_customers=400)
    *history, new_week = shop_weeks("200607", DEMO_WEEKS)
    with ctx.landing(LANDING_SOURCE) as landing:
        write_calendar(landing)
        sandbox.write_weeks(landing, history)
    ctx.instance.add_dynamic_partitions(week_partitions.name, history)

    ctx.materialize(["dunnhumby_shop_calendar"], resources=resources)
    ctx.materialize(INGEST, partition_range=(history[0], history[-1]), resources=resources)
    ctx.materialize(TRAINING, resources=resources)
    # A new week lands: ingest it and score its customers with the model just trained (no retraining).
    with ctx.landing(LANDING_SOURCE) as landing:
        sandbox.write_week(landing, new_week)
    ctx.instance.add_dynamic_partitions(week_partitions.name, [new_week])
    ctx.materialize(INGEST, partitions=[new_week], resources=resources)
