"""The storage layer on a real S3-protocol server (`moto_server` on 127.0.0.1, tests/s3_server.py): Delta tables,
quarantine, the model store, TFRecords read by tf.data, landing fingerprints and a landing sensor, with
credentials and endpoint only in the environment."""

from __future__ import annotations

import json

import dagster as dg
import pyarrow as pa
import pytest

from foundation.landing import LandingFolder, fingerprint
from foundation.resources import StorageResource
from foundation.storage.delta_tables import ShrinkRefused, Window
from foundation.storage.filesystems import delta_storage_options, list_files, read_bytes, write_bytes
from foundation.storage.tfrecords import CorruptRecord, FeatureSpec, ShardWriter, read_records
from tests.s3_server import BUCKET

SCHEMA = pa.schema([("week", pa.string()), ("id", pa.int64()), ("value", pa.float64())])


def _keys(s3_server, storage: StorageResource, under: str) -> list[str]:
    prefix = storage.root_uri.removeprefix(f"s3://{BUCKET}/")
    return s3_server.keys(BUCKET, f"{prefix}/{under}")


def test_delta_window_overwrite_merge_and_shrink_guard_on_s3(s3_server, s3_storage):
    store = s3_storage.delta("weeks", SCHEMA, partition_by=["week"])
    rows = [{"week": w, "id": i, "value": float(i)} for w in ("200601", "200602") for i in range(10)]
    store.overwrite(pa.Table.from_pylist(rows, schema=SCHEMA), Window.of("week", "200601", "200602"))
    again = [{"week": "200602", "id": i, "value": 2.0 * i} for i in range(10)]
    result = store.overwrite(pa.Table.from_pylist(again, schema=SCHEMA), Window.of("week", "200602"))
    assert (result.rows_written, result.rows_total, result.version) == (10, 20, 2)
    with pytest.raises(ShrinkRefused):  # the guard reads the Delta log's statistics on S3 too
        store.overwrite(pa.Table.from_pylist(again[:2], schema=SCHEMA), Window.of("week", "200602"))
    store.merge(pa.Table.from_pylist([{"week": "200601", "id": 0, "value": 99.0}], schema=SCHEMA), ["week", "id"])
    table = store.read(Window.of("week", "200601")).to_pylist()
    assert len(table) == 10 and {r["value"] for r in table if r["id"] == 0} == {99.0}
    streamed = store.overwrite_stream(
        iter(pa.Table.from_pylist(again, schema=SCHEMA).to_batches(max_chunksize=3)), Window.of("week", "200602")
    )
    assert streamed.rows_written == 10 and store.count() == 20
    keys = _keys(s3_server, s3_storage, "delta/weeks/")
    assert any(k.endswith(".parquet") and "/week=200601/" in k for k in keys)
    assert any("/_delta_log/" in k for k in keys)


def test_quarantine_on_s3(s3_storage):
    quarantine = s3_storage.quarantine("amazon_reviews", "Toys")
    quarantine.reject(b'{"rating": NaN}', "out_of_range: rating", "Toys.jsonl:3", offset=120)
    meta = quarantine.commit("run-1")
    assert meta["quarantined_rows"] == 1
    assert meta["quarantine_table"].value.startswith("s3://")
    row = quarantine.store.read().to_pylist()[0]
    assert (row["reason"], row["raw_offset"], row["source_partition"]) == ("out_of_range: rating", 120, "Toys")


def test_model_store_publish_latest_and_download_on_s3(s3_server, s3_storage, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the download cache is scratch, in the temp folder
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    store = s3_storage.model_store("retail_two_tower")
    with store.publish("abcdef1234", data_versions={"examples": 3}) as draft:
        (draft.path / "weights.bin").write_bytes(b"\0" * 1000)
        (draft.path / "nested").mkdir()
        (draft.path / "nested" / "vocab.json").write_text("[]")
        draft.metrics = {"hit_rate": 0.5}
    version = store.require()
    store.add_file(version, "report.json", json.dumps({"ok": True}))
    assert store.versions() == [version]
    assert store.manifest()["data_versions"] == {"examples": 3}
    assert json.loads(store.read_text("report.json")) == {"ok": True}
    local = store.path()
    assert local.is_relative_to(tmp_path) and (local / "nested" / "vocab.json").read_text() == "[]"
    keys = _keys(s3_server, s3_storage, "models/retail_two_tower/")
    assert {k.rsplit("/", 1)[-1] for k in keys} >= {"latest.json", "manifest.json", "weights.bin", "vocab.json"}


def test_tfrecords_written_to_s3_are_read_by_tf_data(s3_storage):
    from foundation.storage.tfrecord_datasets import dataset_from_manifest

    uri = s3_storage.tfrecords_uri("example", "train")
    features = {"id": FeatureSpec("int64"), "vec": FeatureSpec("float", 3), "text": FeatureSpec("bytes", None)}
    with ShardWriter(uri, features, shard_bytes=200) as writer:  # small shards: several, read interleaved
        for i in range(25):
            writer.write({"id": i, "vec": [i, i + 0.5, -i], "text": [f"t{i}".encode()] * (i % 3)})
    assert len(writer.manifest.shards) > 3
    import tensorflow as tf

    dense = dataset_from_manifest(uri).map(lambda e: {**e, "text": tf.sparse.to_dense(e["text"])})
    got = sorted(dense.as_numpy_iterator(), key=lambda e: int(e["id"][0]))
    assert [int(e["id"][0]) for e in got] == list(range(25))
    assert got[7]["vec"].tolist() == [7.0, 7.5, -7.0]
    assert got[5]["text"].tolist() == [b"t5", b"t5"]
    ordered = [int(i[0]) for i in dataset_from_manifest(uri, parallel=False).map(lambda e: e["id"])]
    assert ordered == list(range(25))

    shard = f"{uri}/{writer.manifest.shards[0]['path']}"
    data = bytearray(read_bytes(shard))
    data[-6] ^= 0xFF  # flip a bit of the last record's payload
    write_bytes(shard, bytes(data))
    with pytest.raises(CorruptRecord, match="CRC"):
        list(read_records(shard))


def test_landing_fingerprint_is_size_and_etag_on_s3(s3_storage, tmp_path):
    folder = s3_storage.landing("dunnhumby")
    assert folder.files() == []  # an absent prefix is an empty landing folder
    local = tmp_path / "transactions_200607.csv"
    local.write_text("a,b\n1,2\n")
    landed = folder.put(local)
    etag = s3_storage_etag(landed.uri)
    assert landed.fingerprint == f"{local.stat().st_size}-{etag}"
    assert [f.name for f in folder.files()] == ["transactions_200607.csv"]
    folder.put(local)  # the same bytes delivered again: the same content, the same fingerprint
    assert folder.file(local.name).fingerprint == landed.fingerprint
    local.write_text("a,b\n1,3\n")  # same size, new content: a new fingerprint
    assert folder.put(local).fingerprint != landed.fingerprint
    with folder.local_copy(local.name) as copy:
        assert copy.name == local.name and copy.read_text() == "a,b\n1,3\n"
    assert not copy.exists()  # the download was temporary


def s3_storage_etag(uri: str) -> str:
    from foundation.storage.filesystems import filesystem

    fs, path = filesystem(uri)
    with fs.open_input_stream(path) as stream:
        return stream.metadata()["ETag"].decode().strip('"')


def test_local_landing_fingerprint_is_unchanged(tmp_path):
    (tmp_path / "a.csv").write_text("x")
    (listed,) = LandingFolder(str(tmp_path)).files()
    assert listed.fingerprint == fingerprint(tmp_path / "a.csv")  # what materialisations recorded before


def test_dunnhumby_landing_sensor_watches_the_s3_prefix(s3_storage, instance, tmp_path):
    from assets.dunnhumby.automation import dunnhumby_landing_sensor

    landing = s3_storage.landing("dunnhumby")
    week_file = tmp_path / "transactions_200607.csv"
    week_file.write_text("SHOP_WEEK\n200607\n")
    landing.put(week_file)

    def tick(cursor: str | None) -> dg.SensorResult:
        context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"storage": s3_storage})
        return dunnhumby_landing_sensor(context)

    first = tick(None)
    assert [r.partition_key for r in first.run_requests] == ["200607"]
    assert not tick(first.cursor).run_requests  # nothing new: no run
    week_file.write_text("SHOP_WEEK\n200607\n200607\n")  # a corrected re-delivery
    landing.put(week_file)
    third = tick(first.cursor)
    assert [r.partition_key for r in third.run_requests] == ["200607"]
    assert third.run_requests[0].run_key != first.run_requests[0].run_key


def test_storage_options_refuse_secrets_and_unsafe_rename(monkeypatch):
    with pytest.raises(ValueError, match="secrets"):
        delta_storage_options("s3://b/t", {"AWS_SECRET_ACCESS_KEY": "x"})
    with pytest.raises(ValueError, match="UNSAFE_RENAME"):
        delta_storage_options("s3://b/t", {"AWS_S3_ALLOW_UNSAFE_RENAME": "true"})
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    assert delta_storage_options("s3://b/t", {"AWS_REGION": "eu-west-1"}) == {
        "AWS_REGION": "eu-west-1",
        "AWS_ALLOW_HTTP": "true",
    }
    assert delta_storage_options("/local/t") is None
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://s3.example.com")
    assert delta_storage_options("s3://b/t") is None


def test_scratch_is_in_the_temp_folder_when_the_root_is_remote(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    scratch = StorageResource(root_uri="s3://bucket/prefix").scratch_path("models", "x", ".checkpoints")
    assert scratch.is_dir() and scratch.is_relative_to(tmp_path)
    with pytest.raises(ValueError, match="local root"):
        StorageResource(root_uri="s3://bucket/prefix").local_path("landing")
    assert list_files(str(tmp_path / "absent")) == []
