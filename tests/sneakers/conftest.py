"""Fixtures of the sneakers tests: the sandbox marketplace and a helper to materialise sneaker assets."""

from urllib.parse import urlsplit

import dagster as dg
import pytest

from assets.sneakers.definitions import defs
from assets.sneakers.partitions import SNEAKER_QUERIES, add_queries
from assets.sneakers.resources import SneakersMarketplaceResource
from sandbox.sneakers.catalogue import CatalogueConfig
from sandbox.sneakers.marketplace import PROFILE, MarketplaceConfig, MarketplaceServer

ALL = (SNEAKER_QUERIES[0], SNEAKER_QUERIES[-1])


@pytest.fixture(scope="module")
def sandbox_shop():
    """All 25 queries, small, with 429s, slow pages, duplicates, empty prices and broken images on."""
    config = MarketplaceConfig(
        catalogue=CatalogueConfig(seed=3, listings_per_query=40), rate_limit_every=9, slow_every=7, slow_s=0.2
    )
    with MarketplaceServer(config) as server:
        yield server


def materialize(
    instance,
    storage,
    base_url,
    selection,
    partition_range=None,
    partition=None,
    tags=None,
    strategy="scrapy",
    run_config=None,
):
    tags = dict(tags or {})
    if partition_range:
        tags |= {
            "dagster/asset_partition_range_start": partition_range[0],
            "dagster/asset_partition_range_end": partition_range[1],
        }
    marketplace = SneakersMarketplaceResource(
        profile_path=str(PROFILE), base_url=base_url, strategy=strategy, image_allow=[urlsplit(base_url).netloc]
    )
    resources = {"storage": storage, "sneakers_marketplace": marketplace}
    add_queries(instance, SNEAKER_QUERIES)  # what the profile-queries sensor does in a deployment
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection=selection,
        instance=instance,
        resources=resources,
        tags=tags,
        partition_key=partition,
        run_config=run_config,
    )
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    metadata = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        metadata[mat.asset_key.to_user_string()] = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
    return metadata, checks
