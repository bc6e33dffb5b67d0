"""The store sensor: registers stores as partitions and launches a store once per change of its data."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from assets.retail.automation import retail_store_sensor
from assets.retail.partitions import store_partitions
from assets.retail.resources import RetailStoresResource
from sandbox.retail import build_store_databases
from scrapers.retail.store_schema import TRANSACTION_ENTRY
from scrapers.retail.stores import StoreDatabases


def test_sensor_launches_each_store_once_per_change(tmp_path: Path, instance) -> None:
    urls = build_store_databases(tmp_path, n_stores=2, n_people=60, n_items=20, seed=1)
    stores = RetailStoresResource(store_urls=urls)

    context = dg.build_sensor_context(instance=instance, resources={"retail_stores": stores})
    first = retail_store_sensor(context)
    assert sorted(r.partition_key for r in first.run_requests) == ["store_1", "store_2"]
    assert first.dynamic_partitions_requests[0].partition_keys == ["store_1", "store_2"]
    instance.add_dynamic_partitions(store_partitions.name, ["store_1", "store_2"])

    context = dg.build_sensor_context(instance=instance, cursor=first.cursor, resources={"retail_stores": stores})
    assert retail_store_sensor(context).run_requests == []

    engine = sa.create_engine(urls["store_2"])
    with engine.begin() as conn:
        row = conn.execute(sa.select(TRANSACTION_ENTRY).limit(1)).mappings().one()
        conn.execute(TRANSACTION_ENTRY.insert(), [{**row, "ID": 10_000_000}])
    engine.dispose()
    context = dg.build_sensor_context(instance=instance, cursor=first.cursor, resources={"retail_stores": stores})
    third = retail_store_sensor(context)
    assert [r.partition_key for r in third.run_requests] == ["store_2"]
    assert not third.dynamic_partitions_requests


def test_resource_hides_the_password() -> None:
    stores = RetailStoresResource(
        store_urls={"store_1": "postgresql+psycopg://shop:{password}@db.internal:5432/store_1"}, password="s3cret"
    )
    assert "s3cret" not in stores.databases().safe_url("store_1")
    assert "db.internal" in stores.databases().safe_url("store_1")


def test_reads_retry_transient_errors_then_fail_with_the_real_error(tmp_path: Path, monkeypatch) -> None:
    urls = build_store_databases(tmp_path, n_stores=1, n_people=20, n_items=10, seed=2)
    databases = StoreDatabases(urls)
    read_sql, calls = pd.read_sql, []

    def flaky(query, conn, fail_first: int):
        calls.append(query)
        if len(calls) <= fail_first:
            raise sa.exc.OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))
        return read_sql(query, conn)

    monkeypatch.setattr(pd, "read_sql", lambda q, c: flaky(q, c, fail_first=2))
    assert databases.watermark("store_1") and len(calls) == 3  # two transient failures, then the read
    calls.clear()
    monkeypatch.setattr(pd, "read_sql", lambda q, c: flaky(q, c, fail_first=99))
    with pytest.raises(sa.exc.OperationalError):
        databases.watermark("store_1")
    assert len(calls) == 3
