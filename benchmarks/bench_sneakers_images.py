"""Images per second: the pipeline's normalise + TFRecord path versus a plain per-image loop
(Pillow decode, tf.image.resize, tf.io.encode_jpeg, tf.train.Example, TFRecordWriter), same sandbox images.

    .venv/bin/python benchmarks/bench_sneakers_images.py [--images 400] [--rounds 3]

Both paths are imported and warmed up before timing; rounds alternate the two paths and the medians are
compared, so a neighbour's load on the shared machine hits both alike.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from foundation.storage.tfrecords import FeatureSpec, ShardWriter  # noqa: E402
from sandbox.sneakers.catalogue import CatalogueConfig  # noqa: E402
from sandbox.sneakers.marketplace import Marketplace, MarketplaceConfig  # noqa: E402
from scrapers.sneakers.images import normalise_all  # noqa: E402


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
            example = tf.train.Example(
                features=tf.train.Features(
                    feature={"image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[jpeg]))}
                )
            )
            writer.write(example.SerializeToString())
            written += 1
    return written


def pipeline_path(blobs: list[bytes], directory: str) -> int:
    """What sneaker_images and sneaker_tfrecords do per image: normalise on every core, stream into shards."""
    with ShardWriter(directory, {"image": FeatureSpec("bytes")}) as writer:
        for image, _ in normalise_all(blobs):
            if image is not None:
                writer.write({"image": image.jpeg})
    return writer.manifest.examples


def timed(run: object, blobs: list[bytes], target: str) -> tuple[float, float, int]:
    """Images per second, and cores used (process CPU time over wall time: below 2 means a busy neighbour)."""
    started, cpu = time.perf_counter(), time.process_time()
    written = run(blobs, target)  # type: ignore[operator]
    wall = time.perf_counter() - started
    return written / wall, (time.process_time() - cpu) / wall, written


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    shop = Marketplace(
        MarketplaceConfig(catalogue=CatalogueConfig(listings_per_query=args.images // 25 + 1, placeholder_share=0))
    )
    ids = sorted(shop.by_id)[: args.images]
    blobs = [shop.image(i)[0] for i in ids]
    ours, plain, ours_cores, plain_cores = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        pipeline_path(blobs[:5], f"{tmp}/warm")
        plain_loop(blobs[:5], f"{tmp}/warm.tfrecord")
        for r in range(args.rounds):
            rate, cores, n_ours = timed(pipeline_path, blobs, f"{tmp}/ours-{r}")
            ours.append(rate)
            ours_cores.append(cores)
            rate, cores, n_plain = timed(plain_loop, blobs, f"{tmp}/plain-{r}.tfrecord")
            plain.append(rate)
            plain_cores.append(cores)
    median = statistics.median
    print(
        f"images per second on {len(blobs)} sandbox images ({os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}), median of {args.rounds} rounds:"
    )
    print(
        f"  plain decode/resize/tf.train.Example loop {median(plain):8.1f} /s  ({n_plain} written; cores used "
        f"{median(plain_cores):.2f})  rounds: {', '.join(f'{x:.0f}' for x in plain)}"
    )
    print(
        f"  normalise + ShardWriter (pipeline)        {median(ours):8.1f} /s  ({n_ours} written, broken ones "
        f"quarantined; cores used {median(ours_cores):.2f})  rounds: {', '.join(f'{x:.0f}' for x in ours)}"
    )
    print(
        f"  ratio pipeline / plain: x{median(ours) / median(plain):.2f}"
        f"  (per round: {', '.join(f'x{a / b:.2f}' for a, b in zip(ours, plain, strict=True))})"
    )
    print(
        f"  CPU time per image: plain {1000 * median(c / r for c, r in zip(plain_cores, plain, strict=True)):.2f} ms,"
        f" pipeline {1000 * median(c / r for c, r in zip(ours_cores, ours, strict=True)):.2f} ms"
    )


if __name__ == "__main__":
    main()
