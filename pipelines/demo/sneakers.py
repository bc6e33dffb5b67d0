"""Sneakers demo: scrape the sandbox marketplace (all 25 queries in one crawl), build images and TFRecords,
then train, stack, predict and evaluate the tiny CNN."""

from urllib.parse import urlsplit

from assets.sneakers.automation import INGEST, TRAINING
from assets.sneakers.partitions import SNEAKER_QUERIES, add_queries
from assets.sneakers.resources import SneakersMarketplaceResource
from pipelines.demo import DemoContext
from sandbox.sneakers.catalogue import CatalogueConfig
from sandbox.sneakers.marketplace import PROFILE, MarketplaceConfig, MarketplaceServer

LISTINGS_PER_QUERY = 60


def run(ctx: DemoContext) -> None:
    config = MarketplaceConfig(
        catalogue=CatalogueConfig(listings_per_query=LISTINGS_PER_QUERY), rate_limit_every=25, slow_every=10
    )
    with MarketplaceServer(config) as server:
        # The sandbox shop's profile, given explicitly: the code location reads it from the environment.
        # The sandbox runs on 127.0.0.1, which image downloads refuse unless allow-listed: allow exactly its port.
        marketplace = SneakersMarketplaceResource(
            profile_path=str(PROFILE), base_url=server.base_url, image_allow=[urlsplit(server.base_url).netloc]
        )
        resources = {"sneakers_marketplace": marketplace}
        add_queries(ctx.instance, SNEAKER_QUERIES)  # the profile's queries are the partitions (dynamic)
        everything = (SNEAKER_QUERIES[0], SNEAKER_QUERIES[-1])
        ctx.materialize(list(INGEST), partition_range=everything, resources=resources)
        ctx.materialize(["sneaker_tfrecords"], resources=resources)
    ctx.materialize(list(TRAINING), resources=resources)
