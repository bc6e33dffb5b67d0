"""`storefront dunnhumby-history`: register and ingest every dunnhumby week file in one go, train, and backfill
the scores of every week, on the configured Dagster instance.

Why a command: the week partitions are dynamic, so on a fresh instance `dg launch --partition-range ...` fails
(the keys do not exist yet), and the landing sensor takes one run per file (14 minutes for 44 weeks against
~40 s for one range run). Steps, each a run on the instance (visible in the UI):
  1. copy `--from` files (week files, time.csv) into the landing folder, if given;
  2. add the landed weeks to `dunnhumby_shop_weeks`, in week order;
  3. `dunnhumby_shop_calendar` (when time.csv is there), then `dunnhumby_weekly_job` as ONE range run;
  4. `dunnhumby_training_job` (unless `--no-train`; preset chosen by the hardware unless `--preset`);
  5. `dunnhumby_next_basket_scores` and `dunnhumby_week_missions` over the whole range again: the backfill for
     weeks ingested before the models.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("dunnhumby-history", help="register, ingest, train and score every dunnhumby week")
    parser.add_argument("--from", dest="source", type=Path, help="folder of transactions_YYYYWW.csv[.gz] (+ time.csv)")
    parser.add_argument("--no-train", action="store_true", help="ingest only (scores need a trained model)")
    parser.add_argument("--preset", default="", help="next-basket preset (tiny|small|cpu|gpu); default by hardware")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import dagster as dg

    from assets.dunnhumby.automation import TRAINING_JOB_NAME, WEEKLY_JOB_NAME
    from assets.dunnhumby.partitions import week_partitions
    from assets.dunnhumby.resources import DunnhumbyModelsResource
    from assets.dunnhumby.tables import LANDING_SOURCE
    from pipelines.definitions import defs
    from scrapers.dunnhumby.week_files import CALENDAR_FILE, week_of

    storage = defs.resources["storage"]
    landing = Path(storage.landing_path(LANDING_SOURCE))
    landing.mkdir(parents=True, exist_ok=True)
    if args.source:
        for path in sorted(args.source.iterdir()):
            if week_of(path.name) or path.name == CALENDAR_FILE:
                shutil.copy2(path, landing / path.name)
    weeks = sorted({w for p in landing.iterdir() if (w := week_of(p.name))})
    if not weeks:
        print(f"no transactions_YYYYWW.csv[.gz] in {landing}")
        return 1
    instance = dg.DagsterInstance.get()
    known = set(instance.get_dynamic_partitions(week_partitions.name))
    instance.add_dynamic_partitions(week_partitions.name, [w for w in weeks if w not in known])
    print(f"{len(weeks)} weeks {weeks[0]}..{weeks[-1]} registered ({len(set(weeks) - known)} new)", flush=True)

    resources = {"dunnhumby_models": DunnhumbyModelsResource(next_basket_preset=args.preset)} if args.preset else {}
    every = [*defs.assets, *defs.asset_checks]
    merged = {**defs.resources, **resources}
    whole_range = {"dagster/asset_partition_range_start": weeks[0], "dagster/asset_partition_range_end": weeks[-1]}

    def step(label: str, **kwargs) -> None:
        started = time.perf_counter()
        result = dg.materialize(every, instance=instance, resources=merged, raise_on_error=False, **kwargs)
        print(f"{label}: {'ok' if result.success else 'FAILED'} in {time.perf_counter() - started:.0f}s", flush=True)
        if not result.success:
            raise SystemExit(f"{label} failed (run {result.run_id}); see the UI or `dagster run logs`")

    if (landing / CALENDAR_FILE).exists():
        step("calendar", selection=["dunnhumby_shop_calendar"])
    weekly = ["dunnhumby_transactions", "dunnhumby_baskets", "dunnhumby_next_basket_scores", "dunnhumby_week_missions"]
    step(f"{WEEKLY_JOB_NAME} {weeks[0]}...{weeks[-1]} (one run)", selection=weekly, tags=whole_range)
    if args.no_train:
        return 0
    training = ["dunnhumby_customer_basket_sequences", "dunnhumby_basket_missions", "dunnhumby_mission_profiles",
                "dunnhumby_mission_top_products", "dunnhumby_next_basket_model"]  # fmt: skip
    step(TRAINING_JOB_NAME, selection=training)
    backfill = ["dunnhumby_next_basket_scores", "dunnhumby_week_missions"]
    step(f"scores + missions backfill {weeks[0]}...{weeks[-1]}", selection=backfill, tags=whole_range)
    return 0
