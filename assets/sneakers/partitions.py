"""How the sneaker assets are grouped and partitioned: one partition per search query of the site profile.

The partitions are dynamic: a site profile's `queries` define them (the `sneakers_profile_queries` sensor adds
the queries of the profile in $SNEAKERS_MARKETPLACE_PROFILE; `storefront scrape --register` and tests call
`add_queries`), so pointing Storefront at a new shop needs a profile file and no code.
"""

import dagster as dg

GROUP = "sneakers"
# The sandbox marketplace's queries (one sneaker model each, as the original 25 searches): the demo's partitions.
SNEAKER_QUERIES = [
    "air-jordan-1", "air-jordan-2", "air-jordan-3", "air-jordan-4", "air-jordan-5", "air-jordan-6",
    "air-jordan-11", "air-jordan-12", "nike-dunk-low", "nike-dunk-high", "nike-air-force-1", "nike-air-max-1",
    "nike-air-max-90", "yeezy-boost-350", "yeezy-boost-700", "yeezy-foam-runner", "yeezy-slide",
    "adidas-stan-smith", "adidas-samba", "adidas-forum", "new-balance-550", "new-balance-990",
    "new-balance-2002r", "bapesta", "nike-air-max-97",
]  # fmt: skip
queries_partitions = dg.DynamicPartitionsDefinition(name="sneaker_queries")


def add_queries(instance: dg.DagsterInstance, queries: list[str]) -> list[str]:
    """Add the queries that are not partitions yet (in the profile's order); returns those added."""
    known = set(instance.get_dynamic_partitions(queries_partitions.name))
    missing = [q for q in dict.fromkeys(queries) if q not in known]
    if missing:
        instance.add_dynamic_partitions(queries_partitions.name, missing)
    return missing


def window_label(queries: list[str], up_to: int) -> str:
    """A quarantine partition name for a run's queries: them all (fewer than `up_to`), else 'first..last'."""
    return ",".join(queries) if len(queries) < up_to else f"{queries[0]}..{queries[-1]}"
