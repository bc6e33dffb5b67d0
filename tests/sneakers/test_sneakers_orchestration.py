"""The daily re-scrape schedule and the new-images sensor (its cursor is the images table's Delta version)."""

from datetime import UTC, datetime

import dagster as dg
import pyarrow as pa

from assets.sneakers import IMAGES_SCHEMA, SNEAKER_QUERIES, defs, sneakers_daily_scrape, sneakers_new_images_sensor


def test_daily_schedule_requests_every_query_once_per_day():
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 3, 6, tzinfo=UTC))
    requests = sneakers_daily_scrape(context)
    assert [r.partition_key for r in requests] == SNEAKER_QUERIES
    assert {r.tags["sneakers/scrape_date"] for r in requests} == {"2026-11-03"}
    assert len({r.run_key for r in requests}) == len(SNEAKER_QUERIES)


def test_sensor_fires_once_per_new_images_version(storage):
    def tick(cursor):
        with dg.build_sensor_context(cursor=cursor, resources={"storage": storage}) as context:
            return sneakers_new_images_sensor(context)

    assert tick(None).skip_reason is not None  # no table yet
    store = storage.delta("sneaker_images", IMAGES_SCHEMA, ["query"])
    store.ensure()
    first = tick(None)
    assert len(first.run_requests) == 1 and first.cursor == "0"
    assert tick("0").skip_reason is not None
    store.append(pa.Table.from_pylist([], schema=IMAGES_SCHEMA))
    assert tick("0").cursor == "1"


def test_definitions_carry_jobs_checks_and_domain_resources_only(storage):
    assert set(defs.resources) == {"sneakers_marketplace"}  # `storage` is bound centrally
    bound = dg.Definitions.merge(defs, dg.Definitions(resources={"storage": storage}))
    jobs = set(bound.get_repository_def().job_names)
    assert {"sneakers_ingest", "sneakers_dataset", "sneakers_training"} <= jobs
