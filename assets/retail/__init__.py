"""Retail: per-store SQL databases -> deduplicated customers -> item-item sequences -> two-tower recommender.

Pipeline (partitioned by store where the data is per store):
  store_customers      Customer rows of each store database, one Delta table, partition = store
  store_transactions   TransactionEntry rows (+ the item's brand code), partition = store
  retail_catalogue     Item + Department + BrandCode, the same chain-wide catalogue in every store
  customer_entities    splink record linkage over all stores: entity id + match score per customer record
  retail_transactions  transactions under entity ids, partition = store
  item_item_examples   TFRecords of (last 10 purchases -> next item), last purchase per entity held out
  two_tower_model      Keras 3 two-tower retrieval + brute-force top-10 index, next to baselines

Sources are SQLAlchemy URLs (SQLite files in the sandbox, PostgreSQL in production); the
password, when the URL needs one, comes from the RETAIL_DB_PASSWORD environment variable.

Modules: `tables` (every table and dataset, declared once), `partitions`, `resources` (`retail_stores`),
`ingestion` (store databases -> Delta, through `scrapers/retail/`), `linkage` (customer entities and the
transactions under them, `models/retail/linkage_splink.py`), `training` (examples and the two-tower model,
`models/retail/sequences.py`, `models/retail/retrieval.py`), `checks`, `automation` (jobs, sensor, schedule)
and `definitions` (`defs`). The demo is `pipelines/demo/retail.py`.
"""
