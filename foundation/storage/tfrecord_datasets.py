"""`tf.data` input pipelines built from a TFRecord manifest alone."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from foundation.storage.filesystems import is_remote
from foundation.storage.tfrecords import FeatureSpec, read_manifest, read_records, shard_uris

_DTYPES = {"bytes": tf.string, "int64": tf.int64, "float": tf.float32}


def feature_description(features: dict[str, FeatureSpec]) -> dict[str, Any]:
    return {
        name: tf.io.FixedLenFeature([spec.length], _DTYPES[spec.kind])
        if spec.length is not None
        else tf.io.VarLenFeature(_DTYPES[spec.kind])
        for name, spec in features.items()
    }


def _object_store_records(files: list[str], parallel: bool) -> tf.data.Dataset:
    """Serialised examples of object-store shards, streamed through pyarrow.fs (TensorFlow has no S3
    filesystem). Shards are interleaved like `TFRecordDataset(num_parallel_reads=...)` does: each shard is one
    Python generator, and up to 4 read at once (the reads wait on the network and release the GIL).
    Streamed rather than downloaded to a local cache: nothing lands on local disk, and a shard re-written by a
    re-run under the same name can never be served stale; a multi-epoch reader calls `.cache()` itself."""
    signature = tf.TensorSpec([], tf.string)
    shards = tf.data.Dataset.from_tensor_slices(tf.constant(files, tf.string))
    return shards.interleave(
        lambda uri: tf.data.Dataset.from_generator(
            lambda u: read_records(u.decode()), output_signature=signature, args=(uri,)
        ),
        cycle_length=max(1, min(4, len(files))) if parallel else 1,
        **({"num_parallel_calls": tf.data.AUTOTUNE, "deterministic": True} if parallel else {}),
    )


def dataset_from_manifest(directory: str, parallel: bool = True) -> tf.data.Dataset:
    """Parsed examples of every shard the manifest lists (dense for fixed, sparse for var-length), from a local
    folder (`TFRecordDataset`, TensorFlow's C++ reader) or an object store (streamed through pyarrow.fs)."""
    manifest = read_manifest(directory)
    description = feature_description(manifest.features)
    files = shard_uris(directory, manifest)
    autotune = tf.data.AUTOTUNE if parallel else None
    if is_remote(directory):
        records = _object_store_records(files, parallel)
    else:
        records = tf.data.TFRecordDataset(files, num_parallel_reads=autotune)
    return records.map(lambda r: tf.io.parse_single_example(r, description), num_parallel_calls=autotune)
