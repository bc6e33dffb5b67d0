"""Shared storage mechanisms: Delta tables, TFRecord shards and the quarantine."""
