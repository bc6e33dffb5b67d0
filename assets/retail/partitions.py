"""Retail partitions: one per store database (added by `retail_store_sensor` or the demo)."""

import dagster as dg

store_partitions = dg.DynamicPartitionsDefinition(name="retail_stores")
