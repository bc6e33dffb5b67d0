"""TFRecord shards read back with tf.data from the manifest alone; interrupted writes stay hidden."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from foundation.storage.tfrecords import FeatureSpec, ShardWriter, encode_example, read_manifest

FEATURES = {
    "listing_id": FeatureSpec("bytes"),
    "image": FeatureSpec("bytes"),
    "price_bin": FeatureSpec("int64"),
    "embedding": FeatureSpec("float", 4),
    "history": FeatureSpec("int64", None),
}


def rows(n: int):
    rng = np.random.default_rng(0)
    for i in range(n):
        yield {
            "listing_id": f"L{i:04d}",
            "image": rng.bytes(int(rng.integers(100, 3000))),
            "price_bin": i % 7 - 3,  # negative int64 must survive the varint encoding
            "embedding": rng.random(4).astype(np.float32),
            "history": list(range(i % 5)),
        }


def test_shards_read_back_with_tf_data_from_the_manifest_alone(tmp_path):
    uri = str(tmp_path / "sneakers" / "query=air-jordan-1")
    with ShardWriter(uri, FEATURES, shard_bytes=20_000, metadata={"table_version": 3}) as writer:
        writer.write_all(rows(60))
    manifest = read_manifest(uri)
    assert manifest.examples == 60 and len(manifest.shards) > 2
    assert [s["path"] for s in manifest.shards][0] == f"part-00000-of-{len(manifest.shards):05d}.tfrecord"
    assert manifest.metadata == {"table_version": 3}

    from foundation.storage.tfrecord_datasets import dataset_from_manifest

    expected = list(rows(60))
    got = list(dataset_from_manifest(uri, parallel=False).as_numpy_iterator())
    assert len(got) == 60
    for want, have in zip(expected, got, strict=True):
        assert have["listing_id"][0].decode() == want["listing_id"]
        assert have["image"][0] == want["image"]
        assert have["price_bin"][0] == want["price_bin"]
        np.testing.assert_allclose(have["embedding"], want["embedding"], rtol=1e-6)
        history = have["history"]
        assert list(getattr(history, "values", history)) == want["history"]


def test_encoding_matches_tensorflow(tmp_path):
    import tensorflow as tf

    ours = encode_example({"a": ("int64", [-5, 300]), "b": ("bytes", [b"xy"]), "c": ("float", [0.25])})
    theirs = tf.train.Example(
        features=tf.train.Features(
            feature={
                "a": tf.train.Feature(int64_list=tf.train.Int64List(value=[-5, 300])),
                "b": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"xy"])),
                "c": tf.train.Feature(float_list=tf.train.FloatList(value=[0.25])),
            }
        )
    )
    assert tf.train.Example.FromString(ours) == theirs


def test_interrupted_write_leaves_no_partial_shard_visible(tmp_path):
    uri = str(tmp_path / "ds")
    with ShardWriter(uri, FEATURES, shard_bytes=20_000) as writer:
        writer.write_all(rows(10))
    before = sorted(os.listdir(uri))

    with pytest.raises(RuntimeError), ShardWriter(uri, FEATURES, shard_bytes=20_000) as writer:
        writer.write_all(rows(40))
        raise RuntimeError("disk full")
    assert sorted(os.listdir(uri)) == before
    assert read_manifest(uri).examples == 10


def test_killed_writer_leftovers_are_hidden_and_cleaned(tmp_path):
    uri = tmp_path / "ds"
    with ShardWriter(str(uri), FEATURES) as writer:
        writer.write_all(rows(3))
    (uri / ".tmp-deadbeef-00000").write_bytes(b"half a shard")  # what a SIGKILL leaves behind
    from foundation.storage.tfrecord_datasets import dataset_from_manifest

    assert sum(1 for _ in dataset_from_manifest(str(uri))) == 3
    with ShardWriter(str(uri), FEATURES) as writer:  # the next run cleans up
        writer.write_all(rows(5))
    assert not [p for p in os.listdir(uri) if p.startswith(".tmp-")]
    assert json.loads((uri / "manifest.json").read_text())["examples"] == 5


def test_rerun_replaces_shards_instead_of_adding(tmp_path):
    uri = str(tmp_path / "ds")
    for _ in range(2):
        with ShardWriter(uri, FEATURES, shard_bytes=20_000) as writer:
            writer.write_all(rows(30))
    shards = [p for p in os.listdir(uri) if p.endswith(".tfrecord")]
    assert len(shards) == len(read_manifest(uri).shards)


def test_wrong_feature_length_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="expects 4 values"), ShardWriter(str(tmp_path / "ds"), FEATURES) as w:
        w.write({**next(rows(1)), "embedding": [1.0]})
