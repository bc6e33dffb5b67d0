"""Helpers shared by the Amazon tests: a small sandbox category and materialising on a temporary instance."""

import dagster as dg
import pytest

from assets.amazon.definitions import defs
from assets.amazon.resources import AmazonModelSettingsResource
from sandbox.amazon import AmazonSandboxSpec, generate
from scrapers.amazon.landing import LANDING_SOURCE

SMALL = AmazonSandboxSpec(category="Toys", n_users=600, n_items=120, seed=3)
TINY_MODELS = AmazonModelSettingsResource(autoencoder_hidden=16, autoencoder_epochs=2, knn_neighbours=20)


@pytest.fixture
def landed(storage):
    """The small sandbox category dropped into the landing folder."""
    return generate(storage.landing_path(LANDING_SOURCE), SMALL)


def materialize(instance, storage, selection, partition, run_config=None, raise_on_error=True, tags=None):
    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection=selection,
        partition_key=partition,
        instance=instance,
        resources={"storage": storage, "amazon_model_settings": TINY_MODELS},
        run_config=run_config,
        raise_on_error=raise_on_error,
        tags=tags,
    )
