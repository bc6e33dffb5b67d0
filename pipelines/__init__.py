"""Storefront\x27s Dagster code location: definitions, resources, partitions, sensors, jobs, CLI."""
