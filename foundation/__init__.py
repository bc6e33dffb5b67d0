"""Storefront's bottom layer: the mechanisms every pipeline shares, importing nothing above it.

storage/ (Delta tables, TFRecord shards, quarantine), tables (declared tables and datasets),
model_store (versioned models), resources (the `storage` resource), retries, markdown, charts,
ranking_metrics, progress, automation (named automation conditions), run_config, browser.
"""
