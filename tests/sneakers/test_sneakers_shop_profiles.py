"""Pointing the sneakers pipeline at another shop takes a profile file: its queries become partitions (the
profile-queries sensor), its listings, price history and images are materialised; a later crawl of it that stops
short fails the run and leaves the stored partitions as they were."""

from urllib.parse import urlsplit

import dagster as dg
import pytest

from assets.sneakers.automation import sneakers_profile_queries
from assets.sneakers.definitions import defs
from assets.sneakers.resources import SneakersMarketplaceResource
from assets.sneakers.tables import IMAGES, LISTINGS, PRICE_HISTORY, TRAINING_SET
from foundation.storage.tfrecords import read_manifest
from sandbox.shops.server import Faults, KitConfig, ShopKitServer, profile_path

pytestmark = pytest.mark.slow
INGESTION = ["sneaker_listings", "sneaker_price_history", "sneaker_images"]


def _marketplace(shop: str, base_url: str) -> SneakersMarketplaceResource:
    return SneakersMarketplaceResource(
        profile_path=str(profile_path(shop)), base_url=base_url, image_allow=[urlsplit(base_url).netloc]
    )


def _materialize(instance, storage, marketplace, raise_on_error=True, selection=INGESTION):
    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection=selection,
        instance=instance,
        resources={"storage": storage, "sneakers_marketplace": marketplace},
        tags={
            "dagster/asset_partition_range_start": "jordans",
            "dagster/asset_partition_range_end": "dunks",
            "sneakers/scrape_date": "2026-11-05",
        },
        raise_on_error=raise_on_error,
    )


def test_a_new_shop_needs_only_a_profile_and_a_short_crawl_never_replaces_its_listings(instance, storage):
    shop = "loadmore"  # POST load-more API: nothing like the sandbox marketplace
    with ShopKitServer() as server:
        marketplace = _marketplace(shop, server.base_url)
        with dg.build_sensor_context(instance=instance, resources={"sneakers_marketplace": marketplace}) as context:
            tick = sneakers_profile_queries(context)
        for request in tick.dynamic_partitions_requests:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        assert instance.get_dynamic_partitions("sneaker_queries") == ["jordans", "dunks"]

        result = _materialize(instance, storage, marketplace)
        catalogue = server.kit.expected(shop)
    listings = LISTINGS.store(storage)
    assert sorted(listings.read().column("listing_id").to_pylist()) == sorted(catalogue)
    metadata = {
        k: getattr(v, "value", v)
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "sneaker_listings"
        for k, v in e.event_specific_data.materialization.metadata.items()
    }
    assert metadata["crawl_complete"] is True and metadata["items_expected"] == 90
    assert metadata["stop_reasons"] == {"jordans": "total_reached", "dunks": "total_reached"}
    assert IMAGES.store(storage).count() == len(catalogue)  # every product image fetched and normalised

    # ... and its training set: TFRecords over the new shop's listings, one example per trainable listing.
    with ShopKitServer() as server:
        tfrecords = _materialize(
            instance, storage, _marketplace(shop, server.base_url), selection=["sneaker_tfrecords"]
        )
    examples = tfrecords.asset_materializations_for_node("sneaker_tfrecords")[0].metadata["examples"].value
    skipped = tfrecords.asset_materializations_for_node("sneaker_tfrecords")[0].metadata["skipped"].value
    assert sum(examples.values()) + sum(skipped.values()) == len(catalogue) and sum(examples.values()) > 0
    written = sum(read_manifest(TRAINING_SET.uri(storage, split)).examples for split in examples)
    assert written == sum(examples.values())
    version, history = listings.version(), PRICE_HISTORY.store(storage).count()

    # The shop now answers empty pages from page 3 on, still announcing 45 products per query.
    with ShopKitServer(KitConfig(faults={shop: Faults(empty_from_page=3)})) as broken:
        marketplace = _marketplace(shop, broken.base_url)
        failed = _materialize(instance, storage, marketplace, raise_on_error=False)
    assert not failed.success
    error = failed.get_step_failure_events()[0].step_failure_data
    assert "incomplete crawl" in error.error.message and "20 of 45 expected items" in error.error.message
    assert error.user_failure_data.metadata["stop_reasons"].value == {"jordans": "empty_page", "dunks": "empty_page"}
    assert listings.version() == version and listings.count() == len(catalogue)  # untouched
    assert PRICE_HISTORY.store(storage).count() == history
