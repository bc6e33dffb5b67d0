"""The dunnhumby partitions: one dynamic key per shop week (`YYYYWW`), added by the landing sensor."""

import dagster as dg

week_partitions = dg.DynamicPartitionsDefinition(name="dunnhumby_shop_weeks")
WEEK = "SHOP_WEEK"  # the column every week-partitioned table is partitioned (and windowed) by
