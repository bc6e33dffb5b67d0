"""Amazon partitions: a category per landed file pair, a tag per built dataset (both added at run time)."""

import dagster as dg

category_partitions = dg.DynamicPartitionsDefinition(name="amazon_category")
dataset_partitions = dg.DynamicPartitionsDefinition(name="amazon_dataset_tag")
