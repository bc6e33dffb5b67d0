"""Sneakers: scrape an infinite-scroll marketplace, keep prices daily, normalise images, write TFRecords.

    marketplace search pages ──crawl (child process)──▶ sneaker_listings        (Delta, one partition per query)
                                                    └─▶ sneaker_price_history   (Delta, one row per listing per day)
    listing image URLs ──fetch once, normalise 224x224──▶ sneaker_images          (Delta + content-addressed JPEGs)
    listings + images ──leak-free split, price bins──▶ sneaker_tfrecords          (train/validation/test shards)

Labels (model, brand) come from the listing titles (scrapers/sneaker_titles.py), never from row positions.
"""


import json
import os
import sys
import tempfile
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from models.sneaker_dataset import (
    FIXED_PRICE_LABELS,
    SPLITS,
    SplitShares,
    assign_split,
    feature_specs,
    fixed_price_bin,
    group_keys,
    one_hot,
    quantile_bin,
    quantile_edges,
    quantile_labels,
)
from foundation.automation import derived_table, retrain
from foundation.progress import Progress, keras_progress
from foundation.resources import StorageResource
from foundation.storage.delta_tables import Window
from foundation.storage.tfrecords import ShardWriter
from scrapers.marketplace_profile import SANDBOX_PROFILE, SiteProfile
from scrapers.sneaker_images import download_all, normalise_all
from scrapers.sneaker_listings import (
    LISTINGS_SCHEMA,
    PRICE_HISTORY_SCHEMA,
    dedupe,
    listings_table,
    price_history_table,
    read_crawl_output,
    snapshot_key,
    unparsed_titles,
)
from scrapers.sneaker_titles import SneakerVocabulary, colourway_of

if TYPE_CHECKING:
    from pipelines.demo import DemoContext

# One partition per marketplace search query (one sneaker model each), as the original 25 searches.
SNEAKER_QUERIES = [
    "air-jordan-1", "air-jordan-2", "air-jordan-3", "air-jordan-4", "air-jordan-5", "air-jordan-6",
    "air-jordan-11", "air-jordan-12", "nike-dunk-low", "nike-dunk-high", "nike-air-force-1", "nike-air-max-1",
    "nike-air-max-90", "yeezy-boost-350", "yeezy-boost-700", "yeezy-foam-runner", "yeezy-slide",
    "adidas-stan-smith", "adidas-samba", "adidas-forum", "new-balance-550", "new-balance-990",
    "new-balance-2002r", "bapesta", "nike-air-max-97",
]
queries_partitions = dg.StaticPartitionsDefinition(SNEAKER_QUERIES)
GROUP = "sneakers"
CNN_CRON = "0 7 * * 1"  # Monday 07:00 UTC: after that morning's scrape (the daily schedule runs at 06:00)
IMAGE_SIZE = 224


# -- resources ---------------------------------------------------------------------------------------


class SneakerMarketplace(dg.ConfigurableResource):
    """Which shop to scrape and how: a site profile plus the base URL (the sandbox's, or the real shop's)."""

    profile_path: str = str(SANDBOX_PROFILE)
    base_url: str | None = None  # overrides the profile's base_url
    strategy: str = "scrapy"  # "scrapy" pages the JSON API; "playwright" scrolls real Chromium
    max_reject_share: float = 0.05
    max_image_failure_share: float = 0.2

    def profile(self, queries: list[str]) -> SiteProfile:
        return SiteProfile.load(self.profile_path, base_url=self.base_url, queries=queries)


# -- listings ----------------------------------------------------------------------------------------


def _crawl(context: dg.AssetExecutionContext, marketplace: SneakerMarketplace, queries: list[str], workdir: Path) -> tuple[Path, dict]:
    """Run one crawl in a child process through Dagster Pipes; returns its output file and stats."""
    profile_file, out = workdir / "profile.yaml", workdir / "listings.jsonl"
    profile_file.write_text(yaml.safe_dump(marketplace.profile(queries).to_dict()))
    command = [sys.executable, "-m", "scrapers.marketplace_crawl", "--strategy", marketplace.strategy,
               "--profile", str(profile_file), "--out", str(out)]
    invocation = dg.PipesSubprocessClient(cwd=str(Path(__file__).resolve().parents[1])).run(
        command=command, context=context, env={**os.environ}
    )
    messages = invocation.get_custom_messages()
    return out, (messages[-1] if messages else {})


@dg.asset(
    group_name=GROUP,
    partitions_def=queries_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="browser",
    kinds={"delta", "scrapy", "playwright"},
    description="Listings of each marketplace search query as scraped today (title, price, image URL, model, brand).",
)
def sneaker_listings(
    context: dg.AssetExecutionContext, storage: StorageResource, sneakers_marketplace: SneakerMarketplace
) -> dg.MaterializeResult:
    queries = list(context.partition_keys)
    with tempfile.TemporaryDirectory(prefix="sneaker-crawl-") as tmp:
        out, stats = _crawl(context, sneakers_marketplace, queries, Path(tmp))
        listings, rejects = read_crawl_output(out)
    listings, duplicates = dedupe(listings)
    listings = [r for r in listings if r["query"] in queries]
    quarantine = storage.quarantine("sneaker_listings", ",".join(queries) if len(queries) < 5 else f"{queries[0]}..{queries[-1]}")
    for r in rejects:
        quarantine.reject(r.get("raw", r), r["reject"], f"{r.get('query', '')}:line {r.get('line', '')}")
    quarantine.check_share(len(listings) + len(rejects), sneakers_marketplace.max_reject_share)
    if not listings:
        raise RuntimeError(f"the crawl of {queries} returned no listings: {stats}")
    # The daily schedule tags its runs with the day they stand for, so a late or retried run files its prices there.
    day = context.run.tags.get("sneakers/scrape_date")
    table = listings_table(listings, date.fromisoformat(day) if day else datetime.now(UTC).date())
    result = storage.delta("sneaker_listings", LISTINGS_SCHEMA, ["query"]).overwrite(table, Window.of("query", *queries))
    unparsed = unparsed_titles(listings)
    per_query = Counter(r["query"] for r in listings)
    return dg.MaterializeResult(
        metadata=result.metadata()
        | quarantine.commit(context.run_id)
        | {
            "strategy": sneakers_marketplace.strategy,
            "listings": len(listings),
            "listings_per_query": dg.MetadataValue.json(dict(per_query)),
            "duplicates_dropped": duplicates + int(stats.get("duplicates", 0)),
            "rate_limited_429": int(stats.get("rate_limited", 0)),
            "empty_prices": sum(r.get("price") is None for r in listings),
            "unparsed_titles": sum(unparsed.values()),
            "unparsed_title_examples": dg.MetadataValue.json([t for t, _ in unparsed.most_common(10)]),
            "crawl_seconds": float(stats.get("seconds", 0.0)),
            "listings_per_second": round(len(listings) / max(float(stats.get("seconds", 0.0)), 1e-3), 1),
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
    listings = storage.delta("sneaker_listings", LISTINGS_SCHEMA, ["query"]).read(Window.of("query", *queries))
    days = sorted({d for d in listings.column("scrape_date").to_pylist()})
    if len(days) != 1:
        raise RuntimeError(f"expected one scrape day in {queries}, found {days}")
    snapshots = [snapshot_key(days[0], q) for q in queries]
    history = price_history_table(listings)
    result = storage.delta("sneaker_price_history", PRICE_HISTORY_SCHEMA, ["scrape_date"]).overwrite(
        history, Window.of("snapshot", *snapshots)
    )
    return dg.MaterializeResult(metadata=result.metadata() | {"scrape_date": days[0].isoformat(), "priced_listings": pc.count(history["price"]).as_py()})


# -- images ------------------------------------------------------------------------------------------

IMAGES_SCHEMA = pa.schema(
    [
        ("image_url", pa.string()),
        ("query", pa.string()),
        ("content_sha256", pa.string()),
        ("path", pa.string()),  # normalised 224x224 JPEG, content-addressed
        ("source_mode", pa.string()),
        ("source_width", pa.int32()),
        ("source_height", pa.int32()),
        ("normalised_at", pa.timestamp("us", tz="UTC")),
    ]
)


@dg.asset(
    group_name=GROUP,
    partitions_def=queries_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[sneaker_listings],
    kinds={"delta", "pillow"},
    description="Each listing image fetched once, normalised to 224x224 RGB JPEG; failures quarantined with reasons.",
)
def sneaker_images(
    context: dg.AssetExecutionContext, storage: StorageResource, sneakers_marketplace: SneakerMarketplace
) -> dg.MaterializeResult:
    queries = list(context.partition_keys)
    window = Window.of("query", *queries)
    listings = storage.delta("sneaker_listings", LISTINGS_SCHEMA, ["query"]).read(window, columns=["image_url", "query"])
    wanted = sorted(set(zip(listings.column("image_url").to_pylist(), listings.column("query").to_pylist(), strict=True)))
    store = storage.delta("sneaker_images", IMAGES_SCHEMA, ["query"])
    known = {r["image_url"]: r for r in store.read().to_pylist()}  # fetched before (any query): not again
    image_dir = storage.local_path("images", "sneakers")
    todo = sorted({url for url, _ in wanted if url not in known})
    with Progress(context.log, "images downloaded", len(todo)) as downloading:
        downloads = {d.url: d for d in download_all(todo)}
        downloading.advance(len(todo))
    fetched = [d for d in downloads.values() if d.data is not None]
    with Progress(context.log, "images normalised", len(fetched)) as normalising:
        normalised = dict(zip([d.url for d in fetched], normalise_all([d.data for d in fetched]), strict=True))
        normalising.advance(len(fetched))
    quarantine = storage.quarantine("sneaker_images", queries[0] if len(queries) == 1 else f"{queries[0]}..{queries[-1]}")
    now = datetime.now(UTC)
    rows, reused = [], 0
    for url, query in wanted:
        if url in known:
            rows.append({**known[url], "query": query})
            reused += 1
            continue
        download = downloads[url]
        image, reason = normalised.get(url, (None, download.error))
        if image is None:
            quarantine.reject({"image_url": url, "query": query}, reason or "unknown", url if not url.startswith("data:") else "data: URL")
            continue
        path = image_dir / image.sha256[:2] / f"{image.sha256}.jpg"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(image.jpeg)
            tmp.replace(path)
        rows.append({"image_url": url, "query": query, "content_sha256": image.sha256, "path": str(path),
                     "source_mode": image.source_mode, "source_width": image.source_size[0],
                     "source_height": image.source_size[1], "normalised_at": now})
    quarantine.check_share(len(wanted), sneakers_marketplace.max_image_failure_share)
    result = store.overwrite(pa.Table.from_pylist(rows, schema=IMAGES_SCHEMA), window)
    modes = Counter(r["source_mode"] for r in rows)
    return dg.MaterializeResult(
        metadata=result.metadata()
        | quarantine.commit(context.run_id)
        | {"images": len(rows), "downloaded": len(fetched), "reused_from_earlier_runs": reused,
           "source_modes": dg.MetadataValue.json(dict(modes))}
        | downloading.metadata() | normalising.metadata()
    )


# -- TFRecords -----------------------------------------------------------------------------------------


SPLITS_SCHEMA = pa.schema(
    [
        ("listing_id", pa.string()),
        ("split", pa.string()),
        ("group", pa.string()),  # model|colourway: near-identical listings share it
        ("image_sha", pa.string()),
        ("title", pa.string()),
        ("price", pa.float64()),
        ("model", pa.string()),
        ("brand", pa.string()),
        ("query", pa.string()),
    ]
)


class TFRecordConfig(dg.Config):
    price_quantile_bins: int = 10
    train_share: float = 0.7
    validation_share: float = 0.15
    shard_megabytes: int = 64


def training_rows(storage: StorageResource, vocabulary: SneakerVocabulary) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Listings with a parsed model, a price and a good image, one per listing id, with their split."""
    listings_store = storage.delta("sneaker_listings", LISTINGS_SCHEMA, ["query"])
    images_store = storage.delta("sneaker_images", IMAGES_SCHEMA, ["query"])
    listings = listings_store.read().to_pylist()
    images = {r["image_url"]: r for r in images_store.read().to_pylist()}
    skipped = Counter()
    rows, seen = [], set()
    for r in sorted(listings, key=lambda r: (r["query"], r["listing_id"])):
        if r["listing_id"] in seen:
            skipped["same_listing_in_two_queries"] += 1
            continue
        seen.add(r["listing_id"])
        parsed = vocabulary.parse(r["title"])
        image = images.get(r["image_url"])
        if parsed.model is None:
            skipped["unparsed_title"] += 1
        elif r["price"] is None:
            skipped["no_price"] += 1
        elif image is None:
            skipped["no_usable_image"] += 1
        else:
            rows.append({**r, "model": parsed.model, "brand": parsed.brand, "colourway": colourway_of(r["title"]),
                         "image_path": image["path"], "image_sha": image["content_sha256"]})
    versions = {"listings_table_version": listings_store.version(), "images_table_version": images_store.version()}
    return rows, {"skipped": dict(skipped), **versions}


@dg.asset(
    group_name=GROUP,
    deps=[sneaker_listings, sneaker_images],
    kinds={"tfrecord"},
    description="Train/validation/test TFRecord shards: 224x224 JPEG, title, price, one-hot price bins, model, brand.",
)
def sneaker_tfrecords(
    context: dg.AssetExecutionContext, config: TFRecordConfig, storage: StorageResource, sneakers_marketplace: SneakerMarketplace
) -> dg.MaterializeResult:
    vocabulary = SneakerVocabulary.from_config(sneakers_marketplace.profile([]).vocabulary)
    rows, provenance = training_rows(storage, vocabulary)
    if not rows:
        raise RuntimeError(f"no trainable listings: {provenance}")
    groups = group_keys([r["model"] for r in rows], [r["colourway"] for r in rows], [r["image_sha"] for r in rows])
    shares = SplitShares(config.train_share, config.validation_share)
    for r, g in zip(rows, groups, strict=True):
        r["group"], r["split"] = g, assign_split(g, shares)
    edges = quantile_edges([float(r["price"]) for r in rows if r["split"] == "train"], config.price_quantile_bins)
    models, brands = vocabulary.models, vocabulary.brands
    specs = feature_specs(len(models), len(brands), len(edges) + 1)
    metadata = {
        "vocabularies": {"model": models, "brand": brands, "price_bin": list(FIXED_PRICE_LABELS),
                         "price_quantile": quantile_labels(edges)},
        "price_quantile_edges": edges,
        **provenance,
    }
    split_rows = [{k: r[k] for k in SPLITS_SCHEMA.names if k != "price"} | {"price": float(r["price"])} for r in rows]
    split_result = storage.delta("sneaker_splits", SPLITS_SCHEMA).replace_all(pa.Table.from_pylist(split_rows, schema=SPLITS_SCHEMA))
    metadata["splits_table_version"] = split_result.version
    counts = {}
    progress = Progress(context.log, "examples written", len(rows))
    for split in SPLITS:
        uri = storage.tfrecords_uri("sneakers", split)
        with ShardWriter(uri, specs, shard_bytes=config.shard_megabytes * 2**20, metadata={**metadata, "split": split}) as writer:
            for r in (r for r in rows if r["split"] == split):
                price = float(r["price"])
                writer.write({
                    "listing_id": r["listing_id"], "image": Path(r["image_path"]).read_bytes(), "title": r["title"],
                    "price": price,
                    "price_bin": one_hot(fixed_price_bin(price), len(FIXED_PRICE_LABELS)),
                    "price_quantile": one_hot(quantile_bin(price, edges), len(edges) + 1),
                    "model": one_hot(models.index(r["model"]), len(models)),
                    "brand": one_hot(brands.index(r["brand"]), len(brands)),
                })
                progress.advance()
        counts[split] = writer.manifest.examples
    progress.done()
    context.log.info(f"wrote {counts} examples; skipped {provenance['skipped']}")
    return dg.MaterializeResult(
        metadata={
            "examples": dg.MetadataValue.json(counts),
            "dagster/row_count": sum(counts.values()),
            "skipped": dg.MetadataValue.json(provenance["skipped"]),
            "tfrecords_uri": dg.MetadataValue.path(storage.uri("tfrecords", "sneakers")),
            "price_quantile_edges": dg.MetadataValue.json([round(e, 2) for e in edges]),
            "models": len(models),
            "brands": len(brands),
            "listings_table_version": provenance["listings_table_version"],
            "images_table_version": provenance["images_table_version"],
            "splits_table_version": split_result.version,
            **progress.metadata(),
        }
    )


# -- data quality -------------------------------------------------------------------------------------


@dg.asset_check(asset=sneaker_listings, blocking=True, description="No listing twice within a query; every row titled.")
def sneaker_listings_unique(storage: StorageResource) -> dg.AssetCheckResult:
    table = storage.delta("sneaker_listings", LISTINGS_SCHEMA, ["query"]).read(columns=["listing_id", "query", "title"])
    keys = Counter(zip(table.column("query").to_pylist(), table.column("listing_id").to_pylist(), strict=True))
    duplicates = sum(c - 1 for c in keys.values() if c > 1)
    untitled = table.num_rows - pc.count(table["title"]).as_py()
    return dg.AssetCheckResult(passed=duplicates == 0 and untitled == 0,
                               metadata={"duplicate_rows": duplicates, "untitled_rows": untitled, "rows": table.num_rows})


@dg.asset_check(asset=sneaker_listings, description="Most titles parse to a known model (the labels come from titles).")
def sneaker_titles_parse(storage: StorageResource) -> dg.AssetCheckResult:
    table = storage.delta("sneaker_listings", LISTINGS_SCHEMA, ["query"]).read(columns=["model"])
    share = pc.count(table["model"]).as_py() / max(table.num_rows, 1)
    return dg.AssetCheckResult(passed=share >= 0.9, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"parsed_share": round(share, 4), "rows": table.num_rows})


@dg.asset_check(asset=sneaker_price_history, blocking=True, description="One row per listing per query per day.")
def sneaker_price_history_unique(storage: StorageResource) -> dg.AssetCheckResult:
    table = storage.delta("sneaker_price_history", PRICE_HISTORY_SCHEMA, ["scrape_date"]).read(columns=["snapshot", "listing_id"])
    keys = Counter(zip(table.column("snapshot").to_pylist(), table.column("listing_id").to_pylist(), strict=True))
    duplicates = sum(c - 1 for c in keys.values() if c > 1)
    return dg.AssetCheckResult(passed=duplicates == 0, metadata={"duplicate_rows": duplicates, "rows": table.num_rows})


@dg.asset_check(asset=sneaker_images, blocking=True, description="Stored images exist and are exactly 224x224 RGB.")
def sneaker_images_are_224_rgb(storage: StorageResource) -> dg.AssetCheckResult:
    from PIL import Image

    rows = storage.delta("sneaker_images", IMAGES_SCHEMA, ["query"]).read(columns=["path"]).column("path").to_pylist()
    sample = sorted(set(rows))[:: max(1, len(set(rows)) // 200)]
    bad = []
    for path in sample:
        try:
            with Image.open(path) as img:
                if img.size != (IMAGE_SIZE, IMAGE_SIZE) or img.mode != "RGB":
                    bad.append(f"{path}: {img.size} {img.mode}")
        except OSError as err:
            bad.append(f"{path}: {err}")
    return dg.AssetCheckResult(passed=not bad, metadata={"checked": len(sample), "bad": dg.MetadataValue.json(bad[:20])})


@dg.asset_check(asset=sneaker_tfrecords, blocking=True,
                description="No listing, near-duplicate group or image file spans two splits; shards match the split table.")
def sneaker_splits_do_not_leak(storage: StorageResource) -> dg.AssetCheckResult:
    from foundation.storage.tfrecords import read_manifest

    table = storage.delta("sneaker_splits", SPLITS_SCHEMA).read(columns=["listing_id", "group", "image_sha", "split"])
    leaks = {}
    for column in ("listing_id", "group", "image_sha"):
        splits_per_key: dict[str, set[str]] = {}
        for key, split in zip(table.column(column).to_pylist(), table.column("split").to_pylist(), strict=True):
            splits_per_key.setdefault(key, set()).add(split)
        leaks[column] = sum(len(s) > 1 for s in splits_per_key.values())
    in_table = Counter(table.column("split").to_pylist())
    in_shards = {s: read_manifest(storage.tfrecords_uri("sneakers", s)).examples for s in SPLITS}
    passed = not any(leaks.values()) and all(in_shards.values()) and all(in_table[s] == in_shards[s] for s in SPLITS)
    return dg.AssetCheckResult(passed=passed, metadata={"keys_in_two_splits": dg.MetadataValue.json(leaks),
                                                        "examples": dg.MetadataValue.json(in_shards)})


# -- models: one CNN, stacked meta-models, predictions, evaluation -----------------------------------------

MODEL_NAME = "sneaker_cnn"
PREDICTIONS_SCHEMA = pa.schema(
    [
        ("model_version", pa.string()),
        ("listing_id", pa.string()),
        ("split", pa.string()),
        ("head", pa.string()),
        ("true_class", pa.string()),
        ("cnn_class", pa.string()),
        ("cnn_probabilities", pa.list_(pa.float32())),
        ("stacked_class", pa.string()),
        ("stacked_probabilities", pa.list_(pa.float32())),
    ]
)


class ModelVersionConfig(dg.Config):
    model_version: str | None = None  # None: the latest trained version


class CNNTrainingConfig(dg.Config):
    architecture: str = "tiny"  # "tiny" (tests, demo) or "original" (the original 4-block network)
    epochs: int | None = None
    augment: bool = False
    model_version: str | None = None  # None: derived from the architecture and the data versions
    weights_path: str | None = None  # optional local starting weights; nothing is downloaded


def _latest_file(storage: StorageResource) -> Path:
    return storage.local_path("models", MODEL_NAME) / "LATEST"


def _resolve_version(storage: StorageResource, requested: str | None) -> str:
    if requested:
        return requested
    latest = _latest_file(storage)
    if not latest.exists():
        raise RuntimeError("no sneaker_cnn has been trained yet")
    return latest.read_text().strip()


@dg.asset(
    group_name=GROUP,
    deps=[sneaker_tfrecords],
    kinds={"keras", "tensorflow"},
    # Hours of CNN training with the full network: at most weekly (Monday 07:00 UTC, after the 06:00 scrape),
    # and only after a new training set.
    automation_condition=retrain(CNN_CRON),
    description="Keras 3 CNN: shared convolutional trunk, softmax heads for price bins, price quantiles, model, brand.",
)
def sneaker_cnn(context: dg.AssetExecutionContext, config: CNNTrainingConfig, storage: StorageResource) -> dg.MaterializeResult:
    from dataclasses import replace

    from models import sneaker_cnn as cnn
    from foundation.storage.tfrecords import read_manifest

    uris = {s: storage.tfrecords_uri("sneakers", s) for s in SPLITS}
    data = read_manifest(uris["train"]).metadata
    overrides = {k: v for k, v in {"epochs": config.epochs, "augment": config.augment or None,
                                   "weights_path": config.weights_path}.items() if v is not None}
    settings = replace(cnn.CONFIGS[config.architecture], **overrides)
    version = config.model_version or f"{config.architecture}-splits{data['splits_table_version']}"
    progress = keras_progress(context.log, "sneaker CNN", batch_size=settings.batch_size)
    result = cnn.train(uris["train"], uris["validation"], settings, callbacks=[progress])
    directory = storage.model_path(MODEL_NAME, version)
    cnn.save(result.model, directory, settings, {
        "version": version, "vocabularies": data["vocabularies"], "price_quantile_edges": data["price_quantile_edges"],
        "trained_from": {k: data[k] for k in ("listings_table_version", "images_table_version", "splits_table_version")},
        "history": result.history,
    })
    _latest_file(storage).write_text(version)
    best = int(np.argmin(result.history["val_loss"]))
    val_accuracy = {h: round(result.history[f"val_{h}_accuracy"][best], 4) for h in settings.heads}
    return dg.MaterializeResult(metadata={
        "model_version": version,
        "model_path": dg.MetadataValue.path(str(directory / "model.keras")),
        "architecture": config.architecture,
        "epochs_run": result.epochs,
        "best_epoch": best + 1,
        "train_seconds": round(result.seconds, 1),
        "train_images_per_second": round(result.images_per_second, 1),
        "validation_accuracy": dg.MetadataValue.json(val_accuracy),
        "trained_from_splits_table_version": data["splits_table_version"],
    })


def _title_features(labels: dict[str, np.ndarray], sizes: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Title-derived model and brand one-hots (the TFRecord's model/brand labels are parsed from titles)."""
    return np.eye(sizes["model"])[labels["model"]], np.eye(sizes["brand"])[labels["brand"]]


@dg.asset(
    group_name=GROUP,
    deps=[sneaker_cnn],
    kinds={"scikitlearn"},
    automation_condition=derived_table(),  # follows the CNN it stacks on, in the same tick
    description="Per head, a logistic-regression stack on out-of-fold CNN probabilities (+ title model/brand for price heads).",
)
def sneaker_meta_models(context: dg.AssetExecutionContext, config: ModelVersionConfig, storage: StorageResource) -> dg.MaterializeResult:
    import pickle

    from models import sneaker_cnn as cnn
    from models.sneaker_stacking import fit_predict, meta_features, out_of_fold_probabilities, scores

    version = _resolve_version(storage, config.model_version)
    directory = storage.model_path(MODEL_NAME, version)
    model, settings, _ = cnn.load(directory)
    _, probabilities, labels = cnn.predict(model, storage.tfrecords_uri("sneakers", "validation"), settings)
    sizes = {h: p.shape[1] for h, p in probabilities.items()}
    title_model, title_brand = _title_features(labels, sizes)
    meta, oof_scores, oof = {}, {}, {}
    for head in settings.heads:
        X = meta_features(head, probabilities, title_model, title_brand)
        folds = out_of_fold_probabilities(X, labels[head], sizes[head])
        oof[head] = folds.probabilities
        oof_scores[head] = {"stacked_oof": scores(labels[head], folds.probabilities)["accuracy"],
                            "cnn": scores(labels[head], probabilities[head])["accuracy"]}
        meta[head], _ = fit_predict(X, labels[head], X[:1], sizes[head])  # final model: all validation rows
    (directory / "meta_models.pkl").write_bytes(pickle.dumps(meta))
    np.savez(directory / "validation_oof.npz", **oof)
    return dg.MaterializeResult(metadata={
        "model_version": version,
        "validation_rows": int(len(labels[settings.heads[0]])),
        "validation_accuracy_out_of_fold": dg.MetadataValue.json(oof_scores),
        "meta_models_path": dg.MetadataValue.path(str(directory / "meta_models.pkl")),
    })


@dg.asset(
    group_name=GROUP,
    deps=[sneaker_meta_models],
    kinds={"delta"},
    automation_condition=derived_table(),  # follows the CNN it stacks on, in the same tick
    description="Per listing and head: CNN and stacked class probabilities, keyed by listing id and model version.",
)
def sneaker_predictions(context: dg.AssetExecutionContext, config: ModelVersionConfig, storage: StorageResource) -> dg.MaterializeResult:
    import pickle

    from models import sneaker_cnn as cnn
    from models.sneaker_stacking import meta_features

    version = _resolve_version(storage, config.model_version)
    directory = storage.model_path(MODEL_NAME, version)
    model, settings, info = cnn.load(directory)
    meta = pickle.loads((directory / "meta_models.pkl").read_bytes())
    oof = dict(np.load(directory / "validation_oof.npz"))
    vocab = info["vocabularies"]
    rows = []
    for split in SPLITS:
        with Progress(context.log, f"{split} images predicted") as predicted:
            ids, probabilities, labels = cnn.predict(model, storage.tfrecords_uri("sneakers", split), settings)
            predicted.advance(len(ids))
        sizes = {h: p.shape[1] for h, p in probabilities.items()}
        title_model, title_brand = _title_features(labels, sizes)
        for head in settings.heads:
            if split == "validation":
                stacked = oof[head]  # the meta-model fit on validation rows never predicts them
            else:
                stacked = np.zeros_like(probabilities[head])
                stacked[:, meta[head].classes_] = meta[head].predict_proba(meta_features(head, probabilities, title_model, title_brand))
            names = vocab[head]
            for i, listing_id in enumerate(ids):
                rows.append({"model_version": version, "listing_id": listing_id, "split": split, "head": head,
                             "true_class": names[labels[head][i]], "cnn_class": names[int(probabilities[head][i].argmax())],
                             "cnn_probabilities": probabilities[head][i].tolist(),
                             "stacked_class": names[int(stacked[i].argmax())], "stacked_probabilities": stacked[i].tolist()})
    table = pa.Table.from_pylist(rows, schema=PREDICTIONS_SCHEMA)
    result = storage.delta("sneaker_predictions", PREDICTIONS_SCHEMA, ["model_version"]).overwrite(table, Window.of("model_version", version))
    return dg.MaterializeResult(metadata=result.metadata() | {"model_version": version})


@dg.asset(
    group_name=GROUP,
    deps=[sneaker_predictions],
    automation_condition=derived_table(),  # follows the CNN it stacks on, in the same tick
    description="Accuracy, macro F1 and top-3 per head on the held-out test split, next to majority, title-only and "
                "median-model-price baselines; a confusion matrix per head.",
)
def sneaker_evaluation(context: dg.AssetExecutionContext, config: ModelVersionConfig, storage: StorageResource) -> dg.MaterializeResult:
    from foundation.charts import heatmap_png, markdown_image
    from models.sneaker_evaluation import metrics_markdown
    from models.sneaker_stacking import (
        confusion,
        majority_probabilities,
        median_price_probabilities,
        scores,
        title_only_probabilities,
    )

    version = _resolve_version(storage, config.model_version)
    info = json.loads((storage.model_path(MODEL_NAME, version) / "model.json").read_text())
    vocab, edges = info["vocabularies"], info["price_quantile_edges"]
    predictions = storage.delta("sneaker_predictions", PREDICTIONS_SCHEMA, ["model_version"]).read(
        Window.of("model_version", version)).filter(pc.equal(pc.field("split"), "test")).to_pylist()
    splits = {r["listing_id"]: r for r in storage.delta("sneaker_splits", SPLITS_SCHEMA).read().to_pylist()}
    train = [r for r in splits.values() if r["split"] == "train"]
    label_of = {
        "price_bin": lambda r: fixed_price_bin(r["price"]),
        "price_quantile": lambda r: quantile_bin(r["price"], edges),
        "model": lambda r: vocab["model"].index(r["model"]),
        "brand": lambda r: vocab["brand"].index(r["brand"]),
    }
    to_bin = {"price_bin": fixed_price_bin, "price_quantile": lambda p: quantile_bin(p, edges)}
    results, images = {}, []
    for head in label_of:
        rows = sorted((r for r in predictions if r["head"] == head), key=lambda r: r["listing_id"])
        test = [splits[r["listing_id"]] for r in rows]
        n = len(vocab[head])
        y = np.array([vocab[head].index(r["true_class"]) for r in rows])
        y_train = np.array([label_of[head](r) for r in train])
        cnn_p = np.array([r["cnn_probabilities"] for r in rows])
        per_method = {
            "cnn": scores(y, cnn_p),
            "stacked": scores(y, np.array([r["stacked_probabilities"] for r in rows])),
            "majority": scores(y, majority_probabilities(y_train, len(y), n)),
            "title_only": scores(y, title_only_probabilities([r["title"] for r in train], y_train, [r["title"] for r in test], n)),
        }
        if head in to_bin:
            per_method["median_model_price"] = scores(y, median_price_probabilities(
                [r["model"] for r in train], np.array([r["price"] for r in train]), [r["model"] for r in test], to_bin[head], n))
        results[head] = per_method
        heatmap = heatmap_png(confusion(y, cnn_p.argmax(1), n), vocab[head])
        images.append(markdown_image(heatmap, head, f"**{head}** (CNN, rows true / columns predicted)"))
    table = metrics_markdown(results)
    report = f"### Sneaker CNN {version}: held-out test split ({len(y)} listings)\n\n{table}\n\n" + "\n\n".join(images)
    (storage.model_path(MODEL_NAME, version) / "evaluation.md").write_text(report)
    beats = {h: results[h]["cnn"]["accuracy"] > results[h]["majority"]["accuracy"] for h in results}
    return dg.MaterializeResult(metadata={
        "model_version": version,
        "test_rows": len(y),
        "report": dg.MetadataValue.md(report),
        "metrics": dg.MetadataValue.json(results),
        "cnn_beats_majority": dg.MetadataValue.json(beats),
    })


@dg.asset_check(asset=sneaker_evaluation, description="The CNN beats the majority class on every head of the test split.")
def sneaker_cnn_beats_majority(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    event = context.instance.get_latest_materialization_event(sneaker_evaluation.key)
    beats = event.asset_materialization.metadata["cnn_beats_majority"].value if event else {}
    return dg.AssetCheckResult(passed=bool(beats) and all(beats.values()), severity=dg.AssetCheckSeverity.WARN,
                               metadata={"beats": dg.MetadataValue.json(beats)})


# -- orchestration ---------------------------------------------------------------------------------------

sneakers_ingest_job = dg.define_asset_job(
    "sneakers_ingest",
    selection=dg.AssetSelection.assets(sneaker_listings, sneaker_price_history, sneaker_images),
    partitions_def=queries_partitions,
    description="Scrape, keep price history and normalise images for one or more search queries (backfill me).",
)
sneakers_training_job = dg.define_asset_job(
    "sneakers_training",
    selection=dg.AssetSelection.assets(sneaker_cnn, sneaker_meta_models, sneaker_predictions, sneaker_evaluation),
    description="Train, stack, predict and evaluate; set ops.*.config.model_version to (re)build a chosen version.",
)
sneakers_dataset_job = dg.define_asset_job(
    "sneakers_dataset", selection=dg.AssetSelection.assets(sneaker_tfrecords), description="Rebuild the TFRecords."
)


@dg.schedule(job=sneakers_ingest_job, cron_schedule="0 6 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED)
def sneakers_daily_scrape(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    """Re-scrape every query daily: today's prices join the history, listings show today's catalogue."""
    day = context.scheduled_execution_time.date().isoformat()
    return [dg.RunRequest(run_key=f"{day}|{q}", partition_key=q, tags={"sneakers/scrape_date": day}) for q in SNEAKER_QUERIES]


@dg.sensor(job=sneakers_dataset_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED)
def sneakers_new_images_sensor(context: dg.SensorEvaluationContext, storage: StorageResource) -> dg.SensorResult:
    """Rebuild the TFRecords once per new version of the images table (the cursor is that version)."""
    store = storage.delta("sneaker_images", IMAGES_SCHEMA, ["query"])
    if not store.exists():
        return dg.SensorResult(skip_reason="no sneaker_images table yet")
    version = store.version()
    if context.cursor and int(context.cursor) >= version:
        return dg.SensorResult(skip_reason=f"sneaker_images still at version {version}")
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"sneaker_images@{version}")], cursor=str(version))


defs = dg.Definitions(
    assets=[sneaker_listings, sneaker_price_history, sneaker_images, sneaker_tfrecords,
            sneaker_cnn, sneaker_meta_models, sneaker_predictions, sneaker_evaluation],
    asset_checks=[sneaker_listings_unique, sneaker_titles_parse, sneaker_price_history_unique,
                  sneaker_images_are_224_rgb, sneaker_splits_do_not_leak, sneaker_cnn_beats_majority],
    jobs=[sneakers_ingest_job, sneakers_dataset_job, sneakers_training_job],
    schedules=[sneakers_daily_scrape],
    sensors=[sneakers_new_images_sensor],
    resources={"sneakers_marketplace": SneakerMarketplace()},
)


def demo(ctx: "DemoContext", listings_per_query: int = 60) -> None:
    """Scrape the sandbox marketplace (all 25 queries in one crawl), then build images and TFRecords."""
    from sandbox.marketplace import MarketplaceConfig, MarketplaceServer
    from sandbox.marketplace_catalogue import CatalogueConfig

    config = MarketplaceConfig(catalogue=CatalogueConfig(listings_per_query=listings_per_query), rate_limit_every=25, slow_every=10)
    with MarketplaceServer(config) as server:
        # DemoContext.materialize loads every domain's assets but binds only the shared resources: pass all.
        from pipelines.definitions import defs as all_defs

        resources = {**(all_defs.resources or {}), "sneakers_marketplace": SneakerMarketplace(base_url=server.base_url)}
        everything = (SNEAKER_QUERIES[0], SNEAKER_QUERIES[-1])
        ctx.materialize("sneaker_listings sneaker_price_history sneaker_images".split(), partition_range=everything, resources=resources)
        ctx.materialize(["sneaker_tfrecords"], resources=resources)
    ctx.materialize("sneaker_cnn sneaker_meta_models sneaker_predictions sneaker_evaluation".split(), resources=resources)
