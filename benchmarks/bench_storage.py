"""Storage building blocks, measured against their obvious alternatives in the same process.

1. TFRecord writing: our TensorFlow-free `ShardWriter` vs `tf.train.Example` + `tf.io.TFRecordWriter`.
2. Delta partition refresh: `DeltaStore.overwrite` of one week by predicate vs rewriting the whole table.

Run: .venv/bin/python benchmarks/bench_storage.py [--examples N] [--weeks W]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import pyarrow as pa

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from foundation.storage.delta_tables import DeltaStore, Window  # noqa: E402
from foundation.storage.tfrecords import FeatureSpec, ShardWriter  # noqa: E402


def bench_tfrecords(n: int, root: str) -> None:
    rng = np.random.default_rng(0)
    images = [rng.bytes(224 * 224 * 3 // 8) for _ in range(64)]  # ~19 KB, like a compressed 224x224 JPEG
    rows = [
        {"listing_id": f"L{i}", "image": images[i % 64], "label": i % 25, "price": [float(i % 500)]} for i in range(n)
    ]
    features = {
        "listing_id": FeatureSpec("bytes"),
        "image": FeatureSpec("bytes"),
        "label": FeatureSpec("int64"),
        "price": FeatureSpec("float"),
    }
    started = time.perf_counter()
    with ShardWriter(f"{root}/ours", features) as writer:
        writer.write_all(rows)
    ours = time.perf_counter() - started

    import tensorflow as tf

    started = time.perf_counter()
    with tf.io.TFRecordWriter(f"{root}/tf.tfrecord") as writer:
        for r in rows:
            example = tf.train.Example(
                features=tf.train.Features(
                    feature={
                        "listing_id": tf.train.Feature(bytes_list=tf.train.BytesList(value=[r["listing_id"].encode()])),
                        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[r["image"]])),
                        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[r["label"]])),
                        "price": tf.train.Feature(float_list=tf.train.FloatList(value=r["price"])),
                    }
                )
            )
            writer.write(example.SerializeToString())
    baseline = time.perf_counter() - started
    print(f"tfrecords  {n} examples: ShardWriter {n / ours:,.0f} ex/s, tf.io.TFRecordWriter {n / baseline:,.0f} ex/s")
    print(f"tfrecords  speed ratio ShardWriter / TensorFlow writer: {baseline / ours:.2f}x")


def bench_delta(weeks: int, rows_per_week: int, root: str) -> None:
    schema = pa.schema([("week", pa.string()), ("basket", pa.int64()), ("spend", pa.float64())])
    keys = [f"2006{w:02d}" for w in range(1, weeks + 1)]
    full = pa.table(
        {
            "week": np.repeat(keys, rows_per_week),
            "basket": np.arange(weeks * rows_per_week),
            "spend": np.random.default_rng(0).random(weeks * rows_per_week),
        },
        schema=schema,
    )
    store = DeltaStore(f"{root}/delta", schema, ["week"])
    store.replace_all(full)
    one = full.filter(pa.compute.equal(full["week"], keys[-1]))

    started = time.perf_counter()
    for _ in range(3):
        store.overwrite(one, Window.of("week", keys[-1]))
    window = (time.perf_counter() - started) / 3
    started = time.perf_counter()
    for _ in range(3):
        store.replace_all(full)
    whole = (time.perf_counter() - started) / 3
    assert store.count() == full.num_rows
    print(
        f"delta      refresh 1 of {weeks} weeks ({rows_per_week:,} rows each): window {window:.3f}s, whole table {whole:.3f}s"
    )
    print(f"delta      speed ratio window overwrite / whole-table rewrite: {whole / window:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=20_000)
    parser.add_argument("--weeks", type=int, default=44)
    parser.add_argument("--rows-per-week", type=int, default=25_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        bench_tfrecords(args.examples, root)
        bench_delta(args.weeks, args.rows_per_week, root)


if __name__ == "__main__":
    main()
