"""Ingestion: crawl the marketplace (a child process under Dagster Pipes), keep the price history, fetch and
normalise each listing image once."""

import os
import tempfile
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from assets.sneakers.partitions import GROUP, queries_partitions, window_label
from assets.sneakers.resources import SneakersMarketplaceResource
from assets.sneakers.tables import IMAGES, LISTINGS, PRICE_HISTORY
from foundation.compute import COMPUTE_RESOURCE_DEFS, ComputeResource
from foundation.markdown import markdown_table
from foundation.resources import REPO_ROOT, StorageResource
from foundation.run_config import shrink_allowed
from foundation.storage.delta_tables import Window
from scrapers.marketplace.crawl import crawl_command
from scrapers.sneakers.images import collect_images
from scrapers.sneakers.listings import (
    dedupe,
    listings_table,
    price_history_table,
    read_crawl_output,
    snapshot_key,
    unparsed_titles,
)


def _crawl(
    context: dg.AssetExecutionContext, marketplace: SneakersMarketplaceResource, queries: list[str], workdir: Path
) -> tuple[Path, dict]:
    """Run one crawl in a child process through Dagster Pipes; returns its output file and stats."""
    profile_file, out = workdir / "profile.yaml", workdir / "listings.jsonl"
    profile_file.write_text(yaml.safe_dump(marketplace.profile(queries).to_dict()))
    invocation = dg.PipesSubprocessClient(cwd=str(REPO_ROOT)).run(
        command=crawl_command(marketplace.strategy, profile_file, out), context=context, env={**os.environ}
    )
    messages = invocation.get_custom_messages()
    return out, (messages[-1] if messages else {})


def crawl_evidence(stats: dict) -> dict[str, dg.MetadataValue]:
    """What a crawl's completeness rests on, per query: stop reason, pages, items, expected, errors."""
    rows = [
        [
            r["query"],
            r["stop_reason"],
            r["pages"],
            r["items"],
            r["expected"] if r["expected"] is not None else "?",
            "; ".join(r["errors"][:2]),
        ]
        for r in stats.get("per_query", [])
    ]
    return {
        "crawl_complete": dg.MetadataValue.bool(bool(stats.get("complete"))),
        "stop_reasons": dg.MetadataValue.json(stats.get("stop_reasons", {})),
        "items_expected": (
            dg.MetadataValue.int(stats["expected"])
            if stats.get("expected") is not None
            else dg.MetadataValue.text("unknown")
        ),
        "pages": dg.MetadataValue.int(int(stats.get("pages", 0))),
        "crawl_errors": dg.MetadataValue.json(stats.get("errors", [])[:20]),
        "crawl_report": dg.MetadataValue.md(
            markdown_table(["query", "stopped by", "pages", "items", "expected", "errors"], rows)
        ),
    }


@dg.asset(
    group_name=GROUP,
    partitions_def=queries_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="browser",
    kinds={"delta", "scrapy", "playwright"},
    description="Listings of each marketplace search query as scraped today (title, price, image URL, model, brand).",
)
def sneaker_listings(
    context: dg.AssetExecutionContext, storage: StorageResource, sneakers_marketplace: SneakersMarketplaceResource
) -> dg.MaterializeResult:
    queries = list(context.partition_keys)
    with tempfile.TemporaryDirectory(prefix="sneaker-crawl-") as tmp:
        out, stats = _crawl(context, sneakers_marketplace, queries, Path(tmp))
        listings, rejects = read_crawl_output(out)
    evidence = crawl_evidence(stats)
    if not stats.get("complete"):
        # A partial crawl is a failure: nothing is written, the previous version of these partitions stays.
        problems = stats.get("problems") or ["the crawl reported no stats (it did not finish)"]
        raise dg.Failure(description="incomplete crawl: " + "; ".join(problems[:5]), metadata=evidence)
    listings, duplicates = dedupe(listings)
    listings = [r for r in listings if r["query"] in queries]
    quarantine = storage.quarantine("sneaker_listings", window_label(queries, 5))
    for r in rejects:
        quarantine.reject(r.get("raw", r), r["reject"], f"{r.get('query', '')}:line {r.get('line', '')}")
    quarantine.check_share(len(listings) + len(rejects), sneakers_marketplace.max_reject_share)
    if not listings:
        raise dg.Failure(
            description=f"the crawl of {queries} returned no listings",
            metadata={"queries": dg.MetadataValue.json(queries), "crawl_stats": dg.MetadataValue.json(stats)},
        )
    # The daily schedule tags its runs with the day they stand for, so a late or retried run files its prices there.
    day = context.run.tags.get("sneakers/scrape_date")
    table = listings_table(listings, date.fromisoformat(day) if day else datetime.now(UTC).date())
    result = LISTINGS.store(storage).overwrite(
        table, Window.of("query", *queries), allow_shrink=shrink_allowed(context)
    )
    unparsed = unparsed_titles(listings)
    seconds = float(stats.get("seconds", 0.0))
    return dg.MaterializeResult(
        metadata=result.metadata()
        | quarantine.commit(context.run_id)
        | evidence
        | {
            "strategy": sneakers_marketplace.strategy,
            "listings": len(listings),
            "listings_per_query": dg.MetadataValue.json(dict(Counter(r["query"] for r in listings))),
            "duplicates_dropped": duplicates + int(stats.get("duplicates", 0)),
            "rate_limited_429": int(stats.get("rate_limited", 0)),
            "empty_prices": sum(r.get("price") is None for r in listings),
            "unparsed_titles": sum(unparsed.values()),
            "unparsed_title_examples": dg.MetadataValue.json([t for t, _ in unparsed.most_common(10)]),
            "crawl_seconds": seconds,
            "listings_per_second": round(len(listings) / max(seconds, 1e-3), 1),
        }
    )


@dg.asset(
    group_name=GROUP,
    partitions_def=queries_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[sneaker_listings],
    kinds={"delta"},
    description="One row per listing per scrape day: the price history a daily re-scrape accumulates.",
)
def sneaker_price_history(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    queries = list(context.partition_keys)
    listings = LISTINGS.store(storage).read(Window.of("query", *queries))
    days = sorted(set(listings.column("scrape_date").to_pylist()))
    if len(days) != 1:
        raise dg.Failure(
            description=f"expected one scrape day in {queries}, found {days}",
            metadata={"scrape_dates": dg.MetadataValue.json([str(d) for d in days])},
        )
    snapshots = [snapshot_key(days[0], q) for q in queries]
    history = price_history_table(listings)
    result = PRICE_HISTORY.store(storage).overwrite(history, Window.of("snapshot", *snapshots))
    return dg.MaterializeResult(
        metadata=result.metadata()
        | {"scrape_date": days[0].isoformat(), "priced_listings": pc.count(history["price"]).as_py()}
    )


@dg.asset(
    group_name=GROUP,
    partitions_def=queries_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[sneaker_listings],
    kinds={"delta", "pillow"},
    description="Each listing image fetched once, normalised to 224x224 RGB JPEG; failures quarantined with reasons.",
    resource_defs=COMPUTE_RESOURCE_DEFS,
)
def sneaker_images(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    sneakers_marketplace: SneakersMarketplaceResource,
    compute: ComputeResource,
) -> dg.MaterializeResult:
    queries = list(context.partition_keys)
    window = Window.of("query", *queries)
    listings = LISTINGS.store(storage).read(window, columns=["image_url", "query"])
    pairs = zip(listings.column("image_url").to_pylist(), listings.column("query").to_pylist(), strict=True)
    wanted = sorted({(url, query) for url, query in pairs if url})  # a shop may list products without images
    store = IMAGES.store(storage)
    known = {r["image_url"]: r for r in store.read().to_pylist()}  # fetched before (any query): not again
    batch = collect_images(
        wanted,
        known,
        storage.uri("images", "sneakers"),
        context.log,
        allow=sneakers_marketplace.image_allow,
        limits=sneakers_marketplace.image_limits(),
        engine=compute.engine(),  # None: in-process; else batches of URLs on the Ray cluster
    )
    quarantine = storage.quarantine("sneaker_images", window_label(queries, 2))
    for raw, reason, location in batch.rejects:
        quarantine.reject(raw, reason, location)
    quarantine.check_share(len(wanted), sneakers_marketplace.max_image_failure_share)
    result = store.overwrite(pa.Table.from_pylist(batch.rows, schema=IMAGES.schema), window)
    modes = Counter(r["source_mode"] for r in batch.rows)
    return dg.MaterializeResult(
        metadata=result.metadata()
        | quarantine.commit(context.run_id)
        | {
            "images": len(batch.rows),
            "downloaded": batch.downloaded,
            "reused_from_earlier_runs": batch.reused,
            "source_modes": dg.MetadataValue.json(dict(modes)),
        }
        | batch.metadata
    )
