"""The daily re-scrape schedule and the new-images sensor (its cursor is the images table's Delta version)."""

from datetime import UTC, datetime

import dagster as dg
import pyarrow as pa
import pytest

from assets.sneakers.automation import sneakers_daily_scrape, sneakers_new_images_sensor, sneakers_profile_queries
from assets.sneakers.definitions import defs
from assets.sneakers.partitions import SNEAKER_QUERIES, add_queries
from assets.sneakers.resources import SneakersMarketplaceResource
from assets.sneakers.tables import IMAGES


def test_daily_schedule_requests_every_query_once_per_day(instance):
    add_queries(instance, SNEAKER_QUERIES)
    context = dg.build_schedule_context(instance, scheduled_execution_time=datetime(2026, 11, 3, 6, tzinfo=UTC))
    requests = sneakers_daily_scrape(context)
    assert [r.partition_key for r in requests] == SNEAKER_QUERIES
    assert {r.tags["sneakers/scrape_date"] for r in requests} == {"2026-11-03"}
    assert len({r.run_key for r in requests}) == len(SNEAKER_QUERIES)


def test_the_profiles_queries_become_partitions_and_new_ones_are_scraped_once(instance, tmp_path):
    from sandbox.shops.server import profile_path

    marketplace = SneakersMarketplaceResource(profile_path=str(profile_path("pages")))

    def tick():
        with dg.build_sensor_context(instance=instance, resources={"sneakers_marketplace": marketplace}) as context:
            result = sneakers_profile_queries(context)
        for request in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        return result

    first = tick()
    assert [r.partition_key for r in first.run_requests] == ["jordans", "dunks"]
    assert instance.get_dynamic_partitions("sneaker_queries") == ["jordans", "dunks"]
    assert tick().skip_reason is not None  # nothing new
    edited = tmp_path / "more.yaml"
    edited.write_text(profile_path("pages").read_text().replace("[jordans, dunks]", "[jordans, dunks, boots]"))
    marketplace = SneakersMarketplaceResource(profile_path=str(edited))
    assert [r.partition_key for r in tick().run_requests] == ["boots"]


def test_sensor_fires_once_per_new_images_version(storage):
    def tick(cursor):
        with dg.build_sensor_context(cursor=cursor, resources={"storage": storage}) as context:
            return sneakers_new_images_sensor(context)

    assert tick(None).skip_reason is not None  # no table yet
    store = IMAGES.store(storage)
    store.ensure()
    first = tick(None)
    assert len(first.run_requests) == 1 and first.cursor == "0"
    assert tick("0").skip_reason is not None
    store.append(pa.Table.from_pylist([], schema=IMAGES.schema))
    assert tick("0").cursor == "1"


def test_definitions_carry_jobs_checks_and_domain_resources_only(storage):
    assert set(defs.resources) == {"sneakers_marketplace"}  # `storage` is bound centrally
    bound = dg.Definitions.merge(defs, dg.Definitions(resources={"storage": storage}))
    jobs = set(bound.get_repository_def().job_names)
    assert {"sneakers_ingest", "sneakers_dataset", "sneakers_training"} <= jobs


def test_model_assets_fail_clearly_before_any_cnn_is_trained(storage, instance):
    from assets.sneakers.training import sneaker_meta_models

    result = dg.materialize(
        [sneaker_meta_models], instance=instance, resources={"storage": storage}, raise_on_error=False
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert "no sneaker_cnn has been trained yet" in failure.message


def test_the_marketplace_profile_comes_from_the_environment_not_the_sandbox(monkeypatch):
    from assets.sneakers.resources import PROFILE_ENV_VAR

    monkeypatch.delenv(PROFILE_ENV_VAR, raising=False)
    marketplace = defs.resources["sneakers_marketplace"]
    assert isinstance(marketplace.profile_path, dg.EnvVar)  # no sandbox default; resolved when a run starts
    assert marketplace.profile_path.env_var_name == PROFILE_ENV_VAR
    with pytest.raises(dg.DagsterInvalidConfigError, match=PROFILE_ENV_VAR):
        dg.materialize(
            [a for a in defs.assets if a.key.to_user_string() == "sneaker_tfrecords"],
            resources={"sneakers_marketplace": marketplace, "storage": dg.ResourceDefinition.none_resource()},
        )
