"""The dunnhumby code-location contribution: every asset, check, job, sensor and schedule, and the
domain's own resource (`dunnhumby_models`); `storage` is bound by pipelines/definitions.py."""

import dagster as dg

from assets.dunnhumby.automation import dunnhumby_landing_sensor, training_job, weekly_job, weekly_retraining_schedule
from assets.dunnhumby.checks import dunnhumby_transactions_profile
from assets.dunnhumby.ingestion import dunnhumby_baskets, dunnhumby_shop_calendar, dunnhumby_transactions
from assets.dunnhumby.resources import DunnhumbyModelsResource
from assets.dunnhumby.scoring import dunnhumby_next_basket_scores, dunnhumby_week_missions
from assets.dunnhumby.training import (
    dunnhumby_customer_basket_sequences,
    dunnhumby_next_basket_model,
    dunnhumby_shopping_missions,
)

defs = dg.Definitions(
    assets=[
        dunnhumby_shop_calendar,
        dunnhumby_transactions,
        dunnhumby_baskets,
        dunnhumby_customer_basket_sequences,
        dunnhumby_shopping_missions,
        dunnhumby_next_basket_model,
        dunnhumby_next_basket_scores,
        dunnhumby_week_missions,
    ],
    asset_checks=[dunnhumby_transactions_profile],
    jobs=[weekly_job, training_job],
    sensors=[dunnhumby_landing_sensor],
    schedules=[weekly_retraining_schedule],
    resources={"dunnhumby_models": DunnhumbyModelsResource()},
)
