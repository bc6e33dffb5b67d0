"""CPU training throughput (images/s) of the sneaker CNN: the original 4-block architecture at 224x224
versus the tiny test configuration, on the same TFRecords built from sandbox images.

    .venv/bin/python benchmarks/bench_sneakers_training.py [--images 512] [--epochs 2]
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

from foundation.storage.tfrecords import ShardWriter  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
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
    print(f"CNN training throughput on {n} sandbox images, {args.epochs} epochs, CPU ({os.cpu_count()} cores):")
    for name, rate in rates.items():
        print(f"  {name:<9} {rate:8.1f} images/s   x{rate / rates['tiny']:.3f} of tiny")


if __name__ == "__main__":
    main()
