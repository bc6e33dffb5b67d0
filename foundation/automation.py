"""How eagerly each kind of asset follows new data (declarative automation conditions).

`storefront_automation_sensor` (pipelines/definitions.py) evaluates these every minute while the daemon runs.
Three kinds, so every pipeline reads the same way:

- `derived_table()`: cheap tables derived partition by partition: rebuilt as soon as their inputs update.
- `follow_updates()`: unpartitioned tables over many partitions: rebuilt when any input partition updates.
- `retrain(cron)`: expensive training: at most once per cron tick, and only after new data arrived.

All three wait for runs in progress and never consume an input whose blocking checks failed.
"""

from __future__ import annotations

import dagster as dg

AC = dg.AutomationCondition


def derived_table() -> dg.AutomationCondition:
    """Dagster's eager(), gated on the inputs' blocking checks. Updates made in the same run as the
    asset itself (a job that ingests and derives a week together) do not trigger it again."""
    return (AC.eager() & AC.all_deps_blocking_checks_passed()).with_label("derived_table")


def follow_updates() -> dg.AutomationCondition:
    """Rebuild when any input partition updates. Unlike eager(), a missing input partition does not
    block it: an unpartitioned corpus over monthly partitions must not wait for every month since 2008."""
    return (
        AC.any_deps_updated().since_last_handled()
        & ~AC.any_deps_in_progress()
        & ~AC.in_progress()
        & AC.all_deps_blocking_checks_passed()
    ).with_label("follow_updates")


def retrain(cron: str) -> dg.AutomationCondition:
    """At a tick of `cron` (UTC), if any input updated since the model was last trained (or, if none had, at
    the first input update after the tick): a model retrains at most once per tick however many partitions
    arrive, and never without new data. (on_cron() would wait for ALL inputs to update AFTER the tick, so
    a rarely changing input such as a catalogue would hold training back for good.)"""
    return (
        AC.in_latest_time_window()
        & AC.cron_tick_passed(cron).since_last_handled()
        & AC.any_deps_updated().since_last_handled()
        & ~AC.any_deps_in_progress()
        & ~AC.in_progress()
        & AC.all_deps_blocking_checks_passed()
    ).with_label(f"retrain({cron})")
