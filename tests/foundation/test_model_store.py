"""The one model store: versions appear whole or not at all, the pointer moves only on success."""

import json

import pytest

from foundation.model_store import ModelNotFound, ModelStore, version_name


def test_publish_writes_files_manifest_and_pointer(tmp_path):
    store = ModelStore(str(tmp_path / "models" / "m"))
    assert store.latest() is None and store.versions() == []
    with pytest.raises(ModelNotFound, match="train it first"):
        store.path()
    with store.publish("run12345abc", data_versions={"baskets": 7}, params={"k": 3}) as draft:
        (draft.path / "weights.bin").write_bytes(b"\x00\x01")
        draft.metrics = {"ndcg@10": 0.25}
        draft.info = {"report": "ok"}
    version = store.latest()
    assert version == draft.version and version.endswith("-run12345") and store.versions() == [version]
    manifest = store.manifest()
    assert manifest["data_versions"] == {"baskets": 7} and manifest["params"] == {"k": 3}
    assert manifest["metrics"] == {"ndcg@10": 0.25} and manifest["report"] == "ok"
    assert manifest["files"] == ["weights.bin"] and manifest["run_id"] == "run12345abc"
    assert (store.path() / "weights.bin").read_bytes() == b"\x00\x01"
    store.add_file(version, "evaluation.md", "# fine")
    assert store.read_text("evaluation.md") == "# fine"
    assert json.loads((tmp_path / "models" / "m" / "latest.json").read_text())["version"] == version


def test_a_failed_publish_leaves_no_version_and_keeps_the_pointer(tmp_path):
    store = ModelStore(str(tmp_path / "m"))
    with store.publish("first-run") as draft:
        (draft.path / "a").write_text("1")
    first = store.latest()
    with pytest.raises(RuntimeError), store.publish("second-run") as draft:
        (draft.path / "a").write_text("2")
        raise RuntimeError("training diverged")
    assert store.latest() == first and store.versions() == [first]
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [first, "latest.json"]


def test_versions_sort_by_time_and_a_version_can_be_published_without_moving_latest(tmp_path):
    from datetime import UTC, datetime

    assert version_name("abcdefghij", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "20260102T030405-abcdefgh"
    store = ModelStore(str(tmp_path / "m"))
    with store.publish("run-a") as a:
        pass
    with store.publish("run-b", set_latest=False) as b:
        pass
    assert store.latest() == a.version and set(store.versions()) == {a.version, b.version}
    store.set_latest(b.version)
    assert store.latest() == b.version
    with pytest.raises(ModelNotFound):
        store.set_latest("nope")


def test_partitioned_stores_are_separate(tmp_path):
    from foundation.resources import StorageResource

    storage = StorageResource(root_uri=str(tmp_path))
    with storage.model_store("amazon_ease", "toys").publish("r1") as draft:
        (draft.path / "metrics.json").write_text("{}")
    assert storage.model_store("amazon_ease", "books").latest() is None
    assert storage.model_store("amazon_ease", "toys").path().parent == tmp_path / "models" / "amazon_ease" / "toys"
