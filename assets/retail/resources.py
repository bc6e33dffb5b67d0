"""The `retail_stores` resource: which store databases exist and how to reach them."""

import os
from pathlib import Path

import dagster as dg

from foundation.resources import default_root_uri
from foundation.storage.filesystems import is_remote
from scrapers.retail.store_schema import store_keys
from scrapers.retail.stores import StoreDatabases

LANDING_SOURCE = "retail_stores"  # <root>/landing/retail_stores/<store>.sqlite: the default (demo) databases
DEFAULT_STORES = 3


class RetailStoresResource(dg.ConfigurableResource):
    """The store databases: partition key -> SQLAlchemy URL (`{password}` is filled from `password`)."""

    store_urls: dict[str, str] = {}
    password: str | None = None

    def databases(self) -> StoreDatabases:
        """Readers of the store databases (scrapers/retail/stores.py)."""
        return StoreDatabases(self.store_urls, self.password)


def default_stores_resource() -> RetailStoresResource:
    root_uri = default_root_uri()
    root = Path(root_uri) / "landing" / LANDING_SOURCE
    # The default stores are the demo's SQLite files under a local root; SQLite cannot live in an object store,
    # so with an `s3://` root the store URLs must be configured (the demo passes its own).
    defaults = (
        {}
        if is_remote(root_uri)
        else {key: f"sqlite:///{root / f'{key}.sqlite'}" for key in store_keys(DEFAULT_STORES)}
    )
    return RetailStoresResource(
        store_urls=defaults,
        # Kept as an EnvVar (never a literal) so Dagster masks it; only set when the environment has it.
        password=dg.EnvVar("RETAIL_DB_PASSWORD") if os.environ.get("RETAIL_DB_PASSWORD") else None,
    )
