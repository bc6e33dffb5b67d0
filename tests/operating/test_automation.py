"""Downstream tables and models follow new data: each pipeline's automation conditions, evaluated the way the
automation sensor evaluates them (no daemon), against an instance that sees new upstream materialisations.

Derived tables follow at once; training waits for its cron tick and then runs once, however many
partitions arrived (foundation/automation.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from pipelines.definitions import defs

TUESDAY = datetime(2026, 11, 24, 12, tzinfo=UTC)
NEXT_MONDAY = datetime(2026, 11, 30, tzinfo=UTC)  # Monday 00:00; each pipeline's training tick is on or after it


class Ticks:
    """Successive automation-sensor ticks over one instance, at chosen times, with real runs in between:
    each `materialize` runs stand-ins of the named assets (same keys, partitions and checks) in one run."""

    def __init__(self, group: str) -> None:
        self.instance = dg.DagsterInstance.ephemeral()
        self.selection = dg.AssetSelection.groups(group)
        self.graph = defs.resolve_asset_graph()
        self.cursor = None

    def _stand_in(self, key: dg.AssetKey) -> list:
        node = self.graph.get(key)

        @dg.asset(key=key, partitions_def=node.partitions_def)
        def asset() -> None:
            return None

        def passes() -> dg.AssetCheckResult:
            return dg.AssetCheckResult(passed=True)

        checks = [
            dg.asset_check(asset=key, name=c.name, blocking=True, partitions_def=self.graph.get(c).partitions_def)(
                passes
            )
            for c in node.check_keys
        ]
        return [asset, *checks]

    def materialize(self, *keys: str, partition: str | None = None) -> None:
        """One run materialising `keys` (one partition, or unpartitioned), their checks passing."""
        definitions = [d for key in keys for d in self._stand_in(dg.AssetKey(key))]
        assert dg.materialize(definitions, instance=self.instance, partition_key=partition).success

    def tick(self, at: datetime) -> dict[str, set[str | None]]:
        """Evaluate at `at`; returns the requested partitions by asset name."""
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=self.instance, asset_selection=self.selection, evaluation_time=at, cursor=self.cursor
        )
        self.cursor = result.cursor
        return {
            r.key.to_user_string(): set(result.get_requested_partitions(r.key))
            for r in result.results
            if result.get_num_requested(r.key)
        }


DUNNHUMBY_TRAINING = {
    "dunnhumby_customer_basket_sequences",
    "dunnhumby_basket_missions",
    "dunnhumby_mission_profiles",
    "dunnhumby_mission_top_products",
    "dunnhumby_next_basket_model",
}


def test_dunnhumby_baskets_follow_each_week_and_models_retrain_once_a_week():
    ticks = Ticks("dunnhumby")
    ticks.instance.add_dynamic_partitions("dunnhumby_shop_weeks", ["200607", "200608", "200609"])
    assert ticks.tick(TUESDAY) == {}
    # The sensor's weekly job ingests a week and builds its baskets in one run: nothing to follow up.
    ticks.materialize("dunnhumby_transactions", "dunnhumby_baskets", partition="200607")
    assert ticks.tick(TUESDAY + timedelta(hours=1)) == {}, "no training before Monday's tick"
    # An operator re-ingests a week on its own (`dg launch --assets dunnhumby_transactions --partition ...`).
    ticks.materialize("dunnhumby_transactions", partition="200608")
    assert ticks.tick(TUESDAY + timedelta(hours=2)) == {"dunnhumby_baskets": {"200608"}}
    ticks.materialize("dunnhumby_baskets", partition="200608")
    assert ticks.tick(TUESDAY + timedelta(hours=3)) == {}

    # Monday 03:00 passes: the weeks that arrived since the last training retrain every model, once.
    assert ticks.tick(NEXT_MONDAY + timedelta(hours=4)) == {key: {None} for key in DUNNHUMBY_TRAINING}
    ticks.materialize(*sorted(DUNNHUMBY_TRAINING))
    assert ticks.tick(NEXT_MONDAY + timedelta(hours=4, minutes=30)) == {}
    ticks.materialize("dunnhumby_transactions", "dunnhumby_baskets", partition="200609")
    assert ticks.tick(NEXT_MONDAY + timedelta(hours=5)) == {}, "the next week waits for next Monday"
    assert ticks.tick(NEXT_MONDAY + timedelta(days=7, hours=4)) == {key: {None} for key in DUNNHUMBY_TRAINING}


AMAZON_MODELS = {f"amazon_model_{name}" for name in ("random", "popular", "item_knn", "ease", "autoencoder")}


def test_amazon_reingestion_rebuilds_built_tags_and_models_retrain_daily():
    ticks = Ticks("amazon")
    ticks.instance.add_dynamic_partitions("amazon_category", ["Toys"])
    ticks.instance.add_dynamic_partitions("amazon_dataset_tag", ["toys", "never_built"])
    ticks.materialize("amazon_reviews", "amazon_items", partition="Toys")
    ticks.materialize("amazon_dataset", *sorted(AMAZON_MODELS), "amazon_model_comparison", partition="toys")
    assert ticks.tick(TUESDAY) == {}

    ticks.materialize("amazon_reviews", partition="Toys")  # a new Toys.jsonl landed and the sensor ingested it
    # Built tags are rebuilt (from their saved spec); a tag never built has no spec and is left alone.
    assert ticks.tick(TUESDAY + timedelta(hours=1)) == {"amazon_dataset": {"toys"}}
    ticks.materialize("amazon_dataset", partition="toys")
    assert ticks.tick(TUESDAY + timedelta(hours=2)) == {}, "training waits for the daily tick"
    ticks.materialize("amazon_items", partition="Toys")
    assert ticks.tick(TUESDAY + timedelta(hours=3)) == {"amazon_dataset": {"toys"}}
    ticks.materialize("amazon_dataset", partition="toys")
    # 02:00 passes: every model of the rebuilt tag retrains once, with their comparison in the same run.
    requested = ticks.tick(TUESDAY + timedelta(hours=15))
    assert requested == {key: {"toys"} for key in (*AMAZON_MODELS, "amazon_model_comparison")}


def test_code_corpus_follows_a_crawled_month_and_the_lstm_retrains_weekly():
    ticks = Ticks("code")
    assert ticks.tick(TUESDAY) == {}
    ticks.materialize("github_repositories", "source_files", partition="2019-01-01")
    # Months never crawled (2008 onwards) do not hold the corpus back.
    assert ticks.tick(TUESDAY + timedelta(hours=1)) == {"char_corpus": {None}}
    ticks.materialize("char_corpus")
    assert ticks.tick(TUESDAY + timedelta(hours=2)) == {}, "the LSTM waits for Monday's tick"
    following = {"char_rnn_model": {None}, "char_rnn_evaluation": {None}, "code_completions": {None}}
    assert ticks.tick(NEXT_MONDAY + timedelta(hours=1)) == following
    ticks.materialize(*following)
    ticks.materialize("github_repositories", "source_files", partition="2019-02-01")
    assert ticks.tick(NEXT_MONDAY + timedelta(hours=2)) == {"char_corpus": {None}}


def test_retail_two_tower_retrains_weekly_after_new_examples_even_with_an_unchanged_catalogue():
    ticks = Ticks("retail")
    ticks.materialize("retail_catalogue")
    ticks.materialize("item_item_examples", "two_tower_model")
    assert ticks.tick(TUESDAY) == {}
    ticks.materialize("item_item_examples")  # follows a store delivery (eager); the catalogue does not change
    assert ticks.tick(TUESDAY + timedelta(hours=1)) == {}, "training waits for Monday 04:00"
    assert ticks.tick(NEXT_MONDAY + timedelta(hours=5)) == {"two_tower_model": {None}}


def test_sneaker_cnn_retrains_weekly_on_a_new_training_set_and_its_stack_follows():
    """The dataset job (or its sensor) builds the TFRecords; the CNN retrains at its weekly tick, and its stacked
    meta-models, predictions and evaluation follow in the same run."""
    ticks = Ticks("sneakers")
    assert ticks.tick(TUESDAY) == {}
    ticks.materialize("sneaker_tfrecords")
    assert ticks.tick(TUESDAY + timedelta(hours=1)) == {}, "the CNN waits for Monday 07:00"
    following = {"sneaker_cnn", "sneaker_meta_models", "sneaker_predictions", "sneaker_evaluation"}
    assert ticks.tick(NEXT_MONDAY + timedelta(hours=8)) == {key: {None} for key in following}
    ticks.materialize(*following)
    assert ticks.tick(NEXT_MONDAY + timedelta(hours=9)) == {}, "no new training set, no second run"
