"""Shared fixtures: a temporary storage root, a temporary Dagster instance, the real-data folder."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import dagster as dg
import pytest

from foundation.resources import REPO_ROOT, StorageResource

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
