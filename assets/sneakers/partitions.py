"""How the sneaker assets are grouped and partitioned: one partition per marketplace search query."""

import dagster as dg

GROUP = "sneakers"
# One partition per marketplace search query (one sneaker model each), as the original 25 searches.
SNEAKER_QUERIES = [
    "air-jordan-1", "air-jordan-2", "air-jordan-3", "air-jordan-4", "air-jordan-5", "air-jordan-6",
    "air-jordan-11", "air-jordan-12", "nike-dunk-low", "nike-dunk-high", "nike-air-force-1", "nike-air-max-1",
    "nike-air-max-90", "yeezy-boost-350", "yeezy-boost-700", "yeezy-foam-runner", "yeezy-slide",
    "adidas-stan-smith", "adidas-samba", "adidas-forum", "new-balance-550", "new-balance-990",
    "new-balance-2002r", "bapesta", "nike-air-max-97",
]  # fmt: skip
queries_partitions = dg.StaticPartitionsDefinition(SNEAKER_QUERIES)


def window_label(queries: list[str], up_to: int) -> str:
    """A quarantine partition name for a run's queries: them all (fewer than `up_to`), else 'first..last'."""
    return ",".join(queries) if len(queries) < up_to else f"{queries[0]}..{queries[-1]}"
