"""Amazon ingestion and dataset building on a real two-node Ray cluster (Daft) give the in-process rows, row for row.

The cluster is two `ray start` nodes on 127.0.0.1 (the session fixture `ray_cluster`); the same landed files go
through both paths and the Delta tables (and quarantines) are compared sorted, every column.
"""

import pyarrow as pa
import pytest

from assets.amazon.dataset import build_for_tag
from assets.amazon.partitions import category_partitions, dataset_partitions
from assets.amazon.tables import DATASET_ITEMS, DATASET_RATINGS, ITEMS, REVIEWS
from foundation.compute import ComputeResource
from foundation.resources import StorageResource
from foundation.storage.delta_tables import DeltaStore
from foundation.storage.quarantine import TooManyRejects
from models.amazon.dataset_builder import BuildSpec
from sandbox.amazon import AmazonSandboxSpec, generate
from scrapers.amazon.distributed import cluster_chunks, plan_ranges
from scrapers.amazon.ingest import ingest_file
from scrapers.amazon.jsonl import iter_line_chunks, open_for_chunks
from scrapers.amazon.landing import LANDING_SOURCE

from .conftest import materialize

# One two-node cluster per session: keep every cluster test on one xdist worker (`make test` runs `-n auto`).
pytestmark = pytest.mark.xdist_group("ray_cluster")

CHUNK = 256 << 10  # many chunks from a small file, some holding bad lines
SPEC = AmazonSandboxSpec(category="Toys", n_users=1500, n_items=150, seed=5)
BUILD = {"category": "Toys", "min_interactions": 2, "min_ratings": 3, "k_core": True, "sample_n": 200, "seed": 3}
QUARANTINE_COLUMNS = ["source_partition", "location", "reason", "raw", "raw_bytes", "raw_sha256", "raw_offset"]


def rows(store: DeltaStore, columns: list[str] | None = None) -> pa.Table:
    """Every row of the table's current version, in a canonical order."""
    table = store.read(columns=columns)
    return table.sort_by([(name, "ascending") for name in table.column_names if not _nested(table, name)])


def _nested(table: pa.Table, name: str) -> bool:
    return pa.types.is_nested(table.schema.field(name).type)


def quarantined(storage: StorageResource, source: str) -> pa.Table:
    return rows(storage.quarantine(source).store, QUARANTINE_COLUMNS)


@pytest.fixture(scope="module")
def engine(ray_cluster):
    return ComputeResource(ray_address=ray_cluster.address).engine()


def test_the_cluster_has_two_nodes_and_work_reaches_both(engine):
    assert engine.nodes() == 2
    assert len(set(engine.map_ordered(_node_of, list(range(8))))) == 2


def _node_of(_unit: int) -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


def test_planned_ranges_are_the_chunks_the_local_reader_cuts(tmp_path):
    files = generate(tmp_path, SPEC)
    with open_for_chunks(files.reviews_path) as stream:
        local = [len(chunk) for _, _, chunk in iter_line_chunks(stream, CHUNK)]
    assert [end - start for start, end in plan_ranges(str(files.reviews_path), CHUNK)] == local
    # a line longer than a chunk spans several multiples of the chunk size, as in the local reader
    long_file = tmp_path / "long.jsonl"
    long_file.write_bytes(b"a\n" + b"x" * 3000 + b"\nb\n" + b"y" * 10 + b"\nlast-without-newline")
    with open_for_chunks(long_file) as stream:
        local = [bytes(chunk) for _, _, chunk in iter_line_chunks(stream, 1024)]
    data = long_file.read_bytes()
    planned = [data[start:end] for start, end in plan_ranges(str(long_file), 1024)]
    assert planned[:-1] + [planned[-1] + b"\n"] == local  # the reader gives the last line its newline


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_ingestion_gives_the_same_rows_and_quarantine(engine, tmp_path, gzip):
    files = generate(tmp_path / "landing", AmazonSandboxSpec(**{**SPEC.__dict__, "gzip": gzip}))
    local, cluster = StorageResource(root_uri=str(tmp_path / "local")), StorageResource(root_uri=str(tmp_path / "ray"))
    for path, kind, spec in [(files.reviews_path, "reviews", REVIEWS), (files.meta_path, "items", ITEMS)]:
        for storage, chunks in [(local, None), (cluster, cluster_chunks(engine, path, kind, "Toys", CHUNK))]:
            quarantine = storage.quarantine(spec.name, "Toys")
            result, stats = ingest_file(
                spec.store(storage), quarantine, path, kind, "Toys", chunk_bytes=CHUNK, chunks=chunks
            )
            quarantine.commit("run")
            assert result.rows_written == (files.good_reviews if kind == "reviews" else files.good_items)
        assert rows(spec.store(cluster)).equals(rows(spec.store(local)))
        assert quarantined(cluster, spec.name).equals(quarantined(local, spec.name))
        assert quarantined(local, spec.name).num_rows == sum(
            (files.bad_reviews if kind == "reviews" else files.bad_items).values()
        )


def test_a_broken_file_on_the_cluster_commits_nothing(engine, tmp_path):
    files = generate(tmp_path / "landing", SPEC)
    storage = StorageResource(root_uri=str(tmp_path / "ray"))
    store = REVIEWS.store(storage)
    ingest_file(store, storage.quarantine("r", "Toys"), files.reviews_path, "reviews", "Toys", chunks=None)
    version, before = store.version(), rows(store)
    broken = tmp_path / "Toys.jsonl"
    lines = files.reviews_path.read_bytes().splitlines(keepends=True)
    broken.write_bytes(b"".join(line if i % 5 else b'{"rating": "five"\n' for i, line in enumerate(lines)))
    with pytest.raises(TooManyRejects):
        ingest_file(
            store,
            storage.quarantine("r", "Toys"),
            broken,
            "reviews",
            "Toys",
            chunks=cluster_chunks(engine, broken, "reviews", "Toys", CHUNK),
        )
    assert store.version() == version and rows(store).equals(before)


def test_the_assets_on_the_cluster_write_what_the_in_process_path_writes(ray_cluster, instance, tmp_path):
    """amazon_reviews, amazon_items and amazon_dataset through Dagster with the `compute` resource configured with
    the cluster's address, against the in-process functions those assets run by default."""
    instance.add_dynamic_partitions(category_partitions.name, ["Toys"])
    instance.add_dynamic_partitions(dataset_partitions.name, ["toys"])
    local = StorageResource(root_uri=str(tmp_path / "local"))
    files = generate(local.landing_path(LANDING_SOURCE), SPEC)
    for path, kind, spec in [(files.reviews_path, "reviews", REVIEWS), (files.meta_path, "items", ITEMS)]:
        quarantine = local.quarantine(spec.name, "Toys")
        ingest_file(spec.store(local), quarantine, path, kind, "Toys")
        quarantine.commit("run")
    local_report, _ = build_for_tag(local, "toys", BuildSpec(**BUILD), "run")

    on_cluster = {"resources": {"compute": {"config": {"ray_address": ray_cluster.address}}}}
    storage = StorageResource(root_uri=str(tmp_path / "ray"))
    generate(storage.landing_path(LANDING_SOURCE), SPEC)
    assert materialize(instance, storage, ["amazon_reviews", "amazon_items"], "Toys", run_config=on_cluster).success
    built = materialize(
        instance,
        storage,
        ["amazon_dataset"],
        "toys",
        run_config=on_cluster | {"ops": {"amazon_dataset": {"config": BUILD}}},
    )
    report = built.asset_materializations_for_node("amazon_dataset")[0].metadata["report"].value
    assert report == "\n".join(f"    {line}" for line in local_report) and "Sampled 200 of" in report
    for spec in (REVIEWS, ITEMS, DATASET_RATINGS, DATASET_ITEMS):
        expected = rows(spec.store(local))
        assert expected.num_rows > 0
        assert rows(spec.store(storage)).equals(expected), spec.name
    for source in (REVIEWS.name, ITEMS.name):
        assert quarantined(storage, source).equals(quarantined(local, source))
