"""Storefront's top layer: the Dagster code location (`definitions`), the `storefront` command line
(`cli`, `commands/`) and the demo (`demo/`). Nothing below imports it."""
