"""`tf.data` input pipelines built from a TFRecord manifest alone."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from foundation.storage.tfrecords import FeatureSpec, read_manifest, shard_uris

_DTYPES = {"bytes": tf.string, "int64": tf.int64, "float": tf.float32}


def feature_description(features: dict[str, FeatureSpec]) -> dict[str, Any]:
    return {
        name: tf.io.FixedLenFeature([spec.length], _DTYPES[spec.kind])
        if spec.length is not None
        else tf.io.VarLenFeature(_DTYPES[spec.kind])
        for name, spec in features.items()
    }


def dataset_from_manifest(directory: str, parallel: bool = True) -> tf.data.Dataset:
    """Parsed examples of every shard the manifest lists (dense for fixed, sparse for var-length)."""
    manifest = read_manifest(directory)
    description = feature_description(manifest.features)
    files = shard_uris(directory, manifest)
    autotune = tf.data.AUTOTUNE if parallel else None
    records = tf.data.TFRecordDataset(files, num_parallel_reads=autotune)
    return records.map(lambda r: tf.io.parse_single_example(r, description), num_parallel_calls=autotune)
