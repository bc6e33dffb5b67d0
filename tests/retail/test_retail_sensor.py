"""The store sensor: registers stores as partitions and launches a store once per change of its data."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from assets import retail
from sandbox import retail_stores as layout


def test_sensor_launches_each_store_once_per_change(tmp_path: Path, instance) -> None:
    urls = layout.build_store_databases(tmp_path, n_stores=2, n_people=60, n_items=20, seed=1)
    stores = retail.RetailStoresResource(store_urls=urls)

    context = dg.build_sensor_context(instance=instance, resources={"retail_stores": stores})
    first = retail.retail_store_sensor(context)
    assert sorted(r.partition_key for r in first.run_requests) == ["store_1", "store_2"]
    assert first.dynamic_partitions_requests[0].partition_keys == ["store_1", "store_2"]
    instance.add_dynamic_partitions(retail.store_partitions.name, ["store_1", "store_2"])

    context = dg.build_sensor_context(instance=instance, cursor=first.cursor, resources={"retail_stores": stores})
    assert retail.retail_store_sensor(context).run_requests == []

    engine = sa.create_engine(urls["store_2"])
    with engine.begin() as conn:
        row = conn.execute(sa.select(layout.TRANSACTION_ENTRY).limit(1)).mappings().one()
        conn.execute(layout.TRANSACTION_ENTRY.insert(), [{**row, "ID": 10_000_000}])
    engine.dispose()
    context = dg.build_sensor_context(instance=instance, cursor=first.cursor, resources={"retail_stores": stores})
    third = retail.retail_store_sensor(context)
    assert [r.partition_key for r in third.run_requests] == ["store_2"]
    assert not third.dynamic_partitions_requests


def test_resource_hides_the_password() -> None:
    stores = retail.RetailStoresResource(
        store_urls={"store_1": "postgresql+psycopg://shop:{password}@db.internal:5432/store_1"}, password="s3cret"
    )
    assert "s3cret" not in stores.safe_url("store_1")
    assert "db.internal" in stores.safe_url("store_1")
