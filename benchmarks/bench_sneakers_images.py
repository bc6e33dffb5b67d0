"""Images per second turning sandbox product images into 224x224 RGB JPEG TFRecords, six ways:

1. plain loop (the seed): Pillow decode, tf.image.resize, tf.io.encode_jpeg, tf.train.Example, TFRecordWriter.
2. Pillow, one thread: open, convert("RGB"), `ImageOps.pad` to 224x224 on white, save JPEG (what a user would
   write with Pillow alone).
3. Pillow thread pool: the same function on a ThreadPoolExecutor with one thread per core (the peer).
4. tf.data: `from_tensor_slices(blobs).map(decode_image, resize_with_pad, encode_jpeg, AUTOTUNE)`, bad
   images dropped by `ignore_errors` (the peer a TensorFlow user would pick).
5. `normalise`, one thread: the pipeline's algorithm alone (JPEG draft decoding, box reduction, masked paste).
6. `normalise_all` (one thread per core) + ShardWriter: what sneaker_images and sneaker_tfrecords do.

2-6 write through the same ShardWriter, so only the image work differs. 5 / 2 is the algorithmic gain, 3 / 2
the threading gain, 6 / 3 what the pipeline adds over a Pillow thread pool.

    .venv/bin/python benchmarks/bench_sneakers_images.py [--images 400] [--rounds 3]

Every path is imported and warmed up before timing; rounds alternate the paths and the medians are compared,
so a neighbour's load on the shared machine hits all alike.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from foundation.storage.tfrecords import FeatureSpec, ShardWriter  # noqa: E402
from sandbox.sneakers.catalogue import CatalogueConfig  # noqa: E402
from sandbox.sneakers.marketplace import Marketplace, MarketplaceConfig  # noqa: E402
from scrapers.sneakers.images import SIZE, normalise_all, normalise_or_reason  # noqa: E402

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


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


def pillow_pad(data: bytes) -> bytes | None:
    """224x224 RGB on white with Pillow alone: full decode, `ImageOps.pad` (bicubic), JPEG quality 90."""
    from PIL import Image, ImageOps

    try:
        img = Image.open(io.BytesIO(data)).convert("RGB")
    except Exception:  # noqa: BLE001 - the peer skips what it cannot read
        return None
    out = io.BytesIO()
    ImageOps.pad(img, (SIZE, SIZE), color=(255, 255, 255)).save(out, "JPEG", quality=90)
    return out.getvalue()


def _write(jpegs: Iterable[bytes | None], directory: str) -> int:
    with ShardWriter(directory, {"image": FeatureSpec("bytes")}) as writer:
        for jpeg in jpegs:
            if jpeg is not None:
                writer.write({"image": jpeg})
    return writer.manifest.examples


def pillow_one_thread(blobs: list[bytes], directory: str) -> int:
    return _write(map(pillow_pad, blobs), directory)


def pillow_thread_pool(blobs: list[bytes], directory: str) -> int:
    with ThreadPoolExecutor(CORES) as pool:
        return _write(pool.map(pillow_pad, blobs), directory)


def tf_data(blobs: list[bytes], directory: str) -> int:
    import tensorflow as tf

    def one(data: tf.Tensor) -> tf.Tensor:
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
        padded = tf.image.resize_with_pad(image, SIZE, SIZE)  # pads with black; white would need one more op
        return tf.io.encode_jpeg(tf.cast(padded, tf.uint8), quality=90)

    dataset = tf.data.Dataset.from_tensor_slices(blobs).map(one, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.ignore_errors().prefetch(tf.data.AUTOTUNE)
    return _write((jpeg.numpy() for jpeg in dataset), directory)


def normalise_one_thread(blobs: list[bytes], directory: str) -> int:
    return _write(_jpegs(map(normalise_or_reason, blobs)), directory)


def pipeline_path(blobs: list[bytes], directory: str) -> int:
    """What sneaker_images and sneaker_tfrecords do per image: normalise on every core, stream into shards."""
    return _write(_jpegs(normalise_all(blobs)), directory)


def _jpegs(results: Iterable[tuple[object, str | None]]) -> Iterator[bytes | None]:
    return (None if image is None else image.jpeg for image, _ in results)  # type: ignore[attr-defined]


PATHS: dict[str, Callable[[list[bytes], str], int]] = {
    "plain loop (seed): PIL + tf.image.resize + tf.io": plain_loop,
    "Pillow ImageOps.pad, 1 thread": pillow_one_thread,
    f"Pillow ImageOps.pad, {CORES}-thread pool (peer)": pillow_thread_pool,
    "tf.data map, AUTOTUNE (peer)": tf_data,
    "normalise, 1 thread (our algorithm)": normalise_one_thread,
    f"normalise_all, {CORES} threads (pipeline)": pipeline_path,
}
SEED, PEER = "plain loop (seed): PIL + tf.image.resize + tf.io", f"Pillow ImageOps.pad, {CORES}-thread pool (peer)"


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
    rates: dict[str, list[float]] = {name: [] for name in PATHS}
    cores: dict[str, list[float]] = {name: [] for name in PATHS}
    written: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, run in enumerate(PATHS.values()):
            run(blobs[:5], f"{tmp}/warm-{i}")
        for r in range(args.rounds):
            for i, (name, run) in enumerate(PATHS.items()):
                rate, used, written[name] = timed(run, blobs, f"{tmp}/{i}-{r}")
                rates[name].append(rate)
                cores[name].append(used)
    median = statistics.median
    rate = {name: median(values) for name, values in rates.items()}
    print(
        f"images per second on {len(blobs)} sandbox images ({CORES} cores, load average "
        f"{os.getloadavg()[0]:.1f}), median of {args.rounds} alternating rounds:"
    )
    print(
        f"  {'path':<52}{'images/s':>9}{'written':>8}{'cores':>6}{'CPU ms/img':>11}{'x seed':>8}{'x peer':>8}  rounds"
    )
    for name in PATHS:
        cpu_ms = 1000 * median(c / r for c, r in zip(cores[name], rates[name], strict=True))
        print(
            f"  {name:<52}{rate[name]:>9.1f}{written[name]:>8}{median(cores[name]):>6.2f}{cpu_ms:>11.2f}"
            f"{rate[name] / rate[SEED]:>8.2f}{rate[name] / rate[PEER]:>8.2f}  "
            + ", ".join(f"{x:.0f}" for x in rates[name])
        )
    one_pillow = rate["Pillow ImageOps.pad, 1 thread"]
    print(
        f"  algorithmic gain (normalise / Pillow, 1 thread each): x{rate['normalise, 1 thread (our algorithm)'] / one_pillow:.2f};"
        f" threading gain (Pillow pool / Pillow 1 thread): x{rate[PEER] / one_pillow:.2f};"
        f" pipeline / Pillow pool x{rate[f'normalise_all, {CORES} threads (pipeline)'] / rate[PEER]:.2f},"
        f" / tf.data x{rate[f'normalise_all, {CORES} threads (pipeline)'] / rate['tf.data map, AUTOTUNE (peer)']:.2f}"
    )


if __name__ == "__main__":
    main()
