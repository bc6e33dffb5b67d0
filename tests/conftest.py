"""Shared fixtures: a temporary storage root, a temporary Dagster instance, the real-data folder."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import dagster as dg
import pytest

from foundation.resources import REPO_ROOT, StorageResource
from tests.postgres_cluster import PostgresCluster, throwaway_cluster
from tests.s3_server import BUCKET, S3Server, environment, moto_s3

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED_DATA = (REPO_ROOT.parent / "shared" / "data").resolve()


@pytest.fixture
def storage(tmp_path: Path) -> StorageResource:
    """A storage resource rooted in a fresh temporary folder."""
    return StorageResource(root_uri=str(tmp_path / "root"))


@pytest.fixture
def instance(tmp_path: Path):
    """A real, temporary Dagster instance configured by the repo's dagster.yaml (SQLite storage)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").symlink_to(REPO_ROOT / "dagster.yaml")
    old = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with dg.DagsterInstance.get() as inst:
            yield inst
    finally:
        if old is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = old


def prerequisite_missing(reason: str) -> NoReturn:
    """A test's prerequisite (real data, PostgreSQL, a kernel feature) is missing: skip locally, but under
    CI=true fail, because CI runs every test and `make setup` installs what they need."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@pytest.fixture
def missing() -> Callable[[str], NoReturn]:
    """`missing(reason)`: `prerequisite_missing` for test modules, which cannot import this conftest."""
    return prerequisite_missing


@pytest.fixture
def shared_data() -> Path:
    """`../shared/data` (real public data). Locally, tests using it skip when it is absent; under CI=true
    they must run, so its absence fails them."""
    if not SHARED_DATA.is_dir():
        prerequisite_missing(f"the real data is missing at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A fresh PostgreSQL server on 127.0.0.1 for one test (tests/postgres_cluster.py)."""
    with throwaway_cluster(prerequisite_missing) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def module_postgres_cluster() -> Iterator[PostgresCluster]:
    """One PostgreSQL server shared by the tests of a module (starting one costs seconds on a busy machine)."""
    with throwaway_cluster(prerequisite_missing) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3-protocol server (`moto_server`, its own process) on 127.0.0.1 for the whole session, with one
    bucket (tests/s3_server.py)."""
    with moto_s3(tmp_path_factory.mktemp("moto")) as server:
        server.create_bucket(BUCKET)
        yield server


@pytest.fixture
def s3_storage(s3_server: S3Server, request: pytest.FixtureRequest) -> Iterator[StorageResource]:
    """A storage resource rooted at a fresh prefix of the moto bucket, with the AWS environment set for the test
    (credentials and endpoint only from the environment, as in production)."""
    import re
    import uuid

    prefix = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name)[:40]
    with environment(s3_server.env):
        yield StorageResource(root_uri=f"s3://{BUCKET}/{prefix}-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[object]:
    """A real two-node Ray cluster on 127.0.0.1 (two `ray start`, one CPU and an 80 MB object store each) for the
    whole session, stopped by process group at the end (sandbox/ray_cluster.py); this process is its driver."""
    from sandbox.ray_cluster import local_ray_cluster

    with local_ray_cluster(nodes=2, cpus_per_node=1, object_store_mb=80) as cluster:
        try:
            yield cluster
        finally:
            import ray

            ray.shutdown()  # disconnect the driver before its cluster goes
