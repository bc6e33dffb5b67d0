"""CPU training throughput (images/s) of the sneaker CNN: the original 4-block architecture at 224x224
versus the tiny test configuration and the peer a user would pick (Keras' MobileNetV2, random weights, same heads
and input pipeline), on the same TFRecords built from sandbox images; and with `--quality N`,
the whole sneakers pipeline (sandbox marketplace, N listings per query, tiny CNN, stack, predictions, evaluation)
with every head's champion on validation and test accuracies with bootstrap 95% intervals over listings.

    .venv/bin/python benchmarks/bench_sneakers_training.py [--images 512] [--epochs 2]
    .venv/bin/python benchmarks/bench_sneakers_training.py --quality 60
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from foundation.storage.tfrecords import ShardWriter, read_manifest  # noqa: E402
from models.sneakers.dataset import FIXED_PRICE_LABELS, feature_specs, fixed_price_bin, one_hot  # noqa: E402
from sandbox.sneakers.catalogue import MODELS, CatalogueConfig  # noqa: E402
from sandbox.sneakers.marketplace import Marketplace, MarketplaceConfig  # noqa: E402
from scrapers.sneakers.images import normalise_or_reason  # noqa: E402


def write_split(directory: str, shop: Marketplace, ids: list[str]) -> int:
    queries, brands = list(MODELS), sorted({b for b, _, _ in MODELS.values()})
    with ShardWriter(directory, feature_specs(len(queries), len(brands), 10)) as writer:
        for listing_id in ids:
            listing = shop.by_id[listing_id]
            image, _ = normalise_or_reason(shop.image(listing_id)[0])
            if image is None or not listing.price:
                continue
            price = float(listing.price.strip("$").replace(",", ""))
            writer.write(
                {
                    "listing_id": listing_id,
                    "image": image.jpeg,
                    "title": listing.title,
                    "price": price,
                    "price_bin": one_hot(fixed_price_bin(price), len(FIXED_PRICE_LABELS)),
                    "price_quantile": one_hot(min(int(price // 60), 9), 10),
                    "model": one_hot(queries.index(listing.query), len(queries)),
                    "brand": one_hot(brands.index(MODELS[listing.query][0]), len(brands)),
                }
            )
    return writer.manifest.examples


def quality(listings_per_query: int) -> None:
    """The demo's sneaker pipeline on a fresh instance and root, then the evaluation's champion tables."""
    import time

    import dagster as dg

    import pipelines.demo.sneakers as demo
    from foundation.markdown import markdown_table
    from foundation.resources import StorageResource
    from pipelines.demo import DemoContext

    demo.LISTINGS_PER_QUERY = listings_per_query
    with tempfile.TemporaryDirectory() as tmp, dg.instance_for_test(temp_dir=tmp) as instance:
        started = time.perf_counter()
        demo.run(DemoContext(instance, StorageResource(root_uri=f"{tmp}/root")))
        event = instance.get_latest_materialization_event(dg.AssetKey("sneaker_evaluation"))
        metadata = event.asset_materialization.metadata
    champions, test_rows = metadata["champions"].value, metadata["test_rows"].value
    print(f"\nsneakers pipeline, {listings_per_query} listings per query, {time.perf_counter() - started:.0f} s wall;")
    print(f"champion by validation accuracy, test accuracy with 95% bootstrap intervals over {test_rows} listings:")
    for head, c in champions.items():
        rows = []
        for candidate, validation in sorted(c["validation"].items(), key=lambda kv: -kv[1]["accuracy"]["mean"]):
            t = c["test"][candidate]["accuracy"]
            role = ("champion" if candidate == c["champion"] else "") + (
                " (baseline)" if candidate in ("majority", "median_model_price", "title_only") else ""
            )
            rows.append(
                (
                    candidate,
                    role.strip(),
                    f"{validation['accuracy']['mean']:.3f}",
                    f"{t['mean']:.3f} [{t['low']:.3f}, {t['high']:.3f}]",
                )
            )
        print(f"\n{head}: serves {c['champion']}; runner-up {c['runner_up']}; strongest baseline {c['best_baseline']}")
        diff = c["champion_minus_best_baseline_test"]
        if diff:
            print(
                f"champion minus strongest baseline on test (paired): {diff['mean']:+.3f} [{diff['low']:+.3f}, {diff['high']:+.3f}]"
            )
        print(markdown_table(("candidate", "role", "validation accuracy", "test accuracy (95% CI)"), rows))


def mobilenet_images_per_second(train_uri: str, epochs: int) -> float:
    """The peer a user would pick: Keras' MobileNetV2 (random weights: `keras.applications` weights cannot be
    downloaded here) with the same three softmax heads, fed by the same input pipeline at 224x224."""
    import time

    import keras

    from models.sneakers import cnn as sneaker_cnn
    from models.sneakers.cnn import head_sizes_of

    config = replace(sneaker_cnn.ORIGINAL, epochs=epochs)
    sizes = head_sizes_of(train_uri, config.heads)
    trunk = keras.applications.MobileNetV2(weights=None, include_top=False, pooling="avg", input_shape=(224, 224, 3))
    outputs = {h: keras.layers.Dense(sizes[h], activation="softmax", name=h)(trunk.output) for h in config.heads}
    model = keras.Model(trunk.input, outputs)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss="categorical_crossentropy")
    data = sneaker_cnn.examples(train_uri, config, training=True)
    model.fit(data, epochs=1, verbose=0)  # warm-up: graph tracing, the cache filled
    started = time.perf_counter()
    model.fit(data, epochs=epochs, verbose=0)
    return read_manifest(train_uri).examples * epochs / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--quality", type=int, default=0, help="listings per query: run the pipeline's comparison")
    args = parser.parse_args()
    if args.quality:
        quality(args.quality)
        return
    from models.sneakers import cnn as sneaker_cnn

    shop = Marketplace(
        MarketplaceConfig(catalogue=CatalogueConfig(listings_per_query=args.images // 25 + 8, placeholder_share=0))
    )
    ids = sorted(shop.by_id)
    with tempfile.TemporaryDirectory() as tmp:
        n = write_split(f"{tmp}/train", shop, ids[: args.images])
        write_split(f"{tmp}/validation", shop, ids[args.images : args.images + 64])
        rates = {}
        for name in ("tiny", "original"):
            config = replace(sneaker_cnn.CONFIGS[name], epochs=args.epochs, patience=args.epochs)
            sneaker_cnn.train(f"{tmp}/train", f"{tmp}/validation", replace(config, epochs=1))  # warm-up: graph tracing
            result = sneaker_cnn.train(f"{tmp}/train", f"{tmp}/validation", config)
            rates[name] = result.images_per_second
        rates["MobileNetV2 (peer)"] = mobilenet_images_per_second(f"{tmp}/train", args.epochs)
    print(f"CNN training throughput on {n} sandbox images, {args.epochs} epochs, CPU ({os.cpu_count()} cores):")
    for name, rate in rates.items():
        print(
            f"  {name:<19} {rate:8.1f} images/s   x{rate / rates['tiny']:.3f} of tiny   "
            f"original x{rates['original'] / rate:.2f} of it"
        )


if __name__ == "__main__":
    main()
