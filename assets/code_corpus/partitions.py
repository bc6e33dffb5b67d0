"""The code corpus' group and partitions: one partition per repository creation month."""

import calendar
from datetime import UTC, date, datetime

import dagster as dg

from foundation.storage.delta_tables import Window

GROUP = "code"
FIRST_MONTH = "2008-01-01"  # GitHub opened in 2008
months = dg.MonthlyPartitionsDefinition(start_date=FIRST_MONTH)


def month_window(context: dg.AssetExecutionContext) -> tuple[list[str], Window]:
    """The run's month keys and the Delta window they cover."""
    keys = list(context.partition_keys)
    return keys, Window.range("created_month", keys[0], keys[-1])


def last_day(month_key: str) -> date:
    first = date.fromisoformat(month_key)
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def month_of(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-01")
