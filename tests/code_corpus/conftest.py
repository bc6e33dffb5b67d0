"""Fixtures of the code-corpus tests: the sandbox repositories and a running sandbox GitHub."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.code_corpus.github_server import GitHubSandbox
from sandbox.code_corpus.repositories import Universe, build_universe

TOKEN = "test-token-5f2c"


@pytest.fixture(scope="session")
def universe(tmp_path_factory: pytest.TempPathFactory) -> Universe:
    """Content repositories (planted drops) plus 1,250 fillers in one month, more than 1,000 on one day."""
    return build_universe(tmp_path_factory.mktemp("github") / "repos", seed=7, filler_repos=1_250)


@pytest.fixture
def github(universe: Universe) -> Iterator[GitHubSandbox]:
    with GitHubSandbox(universe.repos, tokens={TOKEN}) as sandbox:
        yield sandbox


@pytest.fixture
def github_token() -> str:
    return TOKEN
