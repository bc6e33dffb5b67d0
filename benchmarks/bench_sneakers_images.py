"""Images per second: the pipeline's normalise + TFRecord path versus a plain per-image loop
(Pillow decode, tf.image.resize, tf.io.encode_jpeg, tf.train.Example, TFRecordWriter), same sandbox images.

    .venv/bin/python benchmarks/bench_sneakers_images.py [--images 400]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.marketplace import Marketplace, MarketplaceConfig  # noqa: E402
from sandbox.marketplace_catalogue import CatalogueConfig  # noqa: E402


def plain_loop(blobs: list[bytes], path: str) -> int:
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    written = 0
    with tf.io.TFRecordWriter(path) as writer:
        for data in blobs:
            try:
                img = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
            except Exception:  # noqa: BLE001 - the plain loop just skips what it cannot read
                continue
            resized = tf.cast(tf.image.resize(img, (224, 224)), tf.uint8)
            jpeg = tf.io.encode_jpeg(resized).numpy()
            example = tf.train.Example(features=tf.train.Features(feature={
                "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[jpeg]))}))
            writer.write(example.SerializeToString())
            written += 1
    return written


def pipeline_path(blobs: list[bytes], directory: str) -> int:
    from assets.sneakers import normalise_many
    from pipelines.storage.tfrecords import FeatureSpec, ShardWriter

    with ShardWriter(directory, {"image": FeatureSpec("bytes")}) as writer:
        for image, _ in normalise_many(blobs):
            if image is not None:
                writer.write({"image": image.jpeg})
    return writer.manifest.examples


def main() -> None:
    """Run as a script only: the process pool re-imports this module in its workers."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=400)
    args = parser.parse_args()
    shop = Marketplace(MarketplaceConfig(catalogue=CatalogueConfig(listings_per_query=args.images // 25 + 1, placeholder_share=0)))
    ids = sorted(shop.by_id)[: args.images]
    blobs = [shop.image(i)[0] for i in ids]
    with tempfile.TemporaryDirectory() as tmp:
        # The pipeline path first: TensorFlow's spinning worker threads would otherwise slow whatever runs next.
        started = time.perf_counter()
        n_ours = pipeline_path(blobs, f"{tmp}/ours")
        ours = n_ours / (time.perf_counter() - started)
        plain_loop(blobs[:5], f"{tmp}/warm.tfrecord")
        started = time.perf_counter()
        n_plain = plain_loop(blobs, f"{tmp}/plain.tfrecord")
        plain = n_plain / (time.perf_counter() - started)
    print(f"images per second on {len(blobs)} sandbox images ({os.cpu_count()} cores):")
    print(f"  plain decode/resize/tf.train.Example loop {plain:8.1f} /s  ({n_plain} written)")
    print(f"  normalise + ShardWriter (pipeline)        {ours:8.1f} /s  ({n_ours} written, broken ones quarantined)")
    print(f"  ratio pipeline / plain: x{ours / plain:.2f}")


if __name__ == "__main__":
    main()
