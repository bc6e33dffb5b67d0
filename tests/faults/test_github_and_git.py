"""Hostile cases for the GitHub crawler, clone URLs and the git extractors (issue 16, items 3, 9 and 11).

GitHub's real error shapes come from the sandbox server on demand (`sandbox.code_corpus.github_server.FAULTS`);
waits go through an injected `sleep`, so no test waits: each asserts the wait schedule instead. The search
universes here are in memory (no git data) except where a clone is the point.
"""

from __future__ import annotations

import json
import random
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from assets.code_corpus.definitions import defs
from assets.code_corpus.resources import CodeCorpusGitHubResource, CodeCorpusSettingsResource
from assets.code_corpus.tables import REPOSITORIES, SOURCE_FILES
from foundation.storage.delta_tables import Window
from sandbox.code_corpus.github_server import GitHubSandbox
from sandbox.code_corpus.repositories import SandboxRepo, _fast_import
from scrapers.code_corpus.git_extraction import (
    UnsafeTree,
    clone,
    extract_with_cli,
    extract_with_gitpython,
    select_files,
    snapshot_all,
)
from scrapers.code_corpus.github import (
    GitHubError,
    GitHubGraphQL,
    IncompleteCrawl,
    RepositoryParseError,
    RetryPolicy,
    check_clone_url,
    crawl,
)

TOKEN = "faults-token-9d1e"
MONTH = "2020-05"
ASSETS = [*defs.assets, *defs.asset_checks]
# No real waiting anywhere: tiny exponential backoffs, and the long GitHub waits go to `sleep=waits.append`.
POLICY = RetryPolicy(backoff_seconds=0.01, slice_backoff_seconds=0.01)


def _repos(n: int, month: str = MONTH, crowded_day: int | None = None, stars: int | None = None) -> list[SandboxRepo]:
    """`n` repositories created in `month` (on `crowded_day` when given), search metadata only."""
    rng = random.Random(n)
    first = datetime.fromisoformat(f"{month}-01T00:00:00+00:00")
    out = []
    for i in range(n):
        day = crowded_day or 1 + i % 28
        created = first.replace(day=day) + timedelta(seconds=rng.randrange(86_400))
        out.append(
            SandboxRepo(
                database_id=500_000 + i,
                owner="fill",
                name=f"r{i:05d}",
                url=f"file:///nonexistent/fill/r{i:05d}.git",
                stargazer_count=stars if stars is not None else 1001 + (i * 37) % 5000,
                license_spdx="MIT",
                created_at=created,
                pushed_at=created + timedelta(days=1),
                head_oid="0" * 40,
            )
        )
    return out


def _crawl_month(sandbox: GitHubSandbox, waits: list[float] | None = None, policy: RetryPolicy = POLICY):
    sleep = waits.append if waits is not None else (lambda _s: None)
    with GitHubGraphQL(TOKEN, sandbox.endpoint, policy, sleep=sleep) as client:
        result = crawl(client, date.fromisoformat(f"{MONTH}-01"), date.fromisoformat(f"{MONTH}-31"))
    return result, client


def _after_cursor(variables: dict) -> bool:
    return bool(variables.get("after"))


@pytest.fixture(scope="module")
def many() -> list[SandboxRepo]:
    return _repos(1_500)


@pytest.fixture(scope="module")
def few() -> list[SandboxRepo]:
    """Enough for several pages per slice; small enough for fast Dagster runs."""
    return _repos(300)


# -- item 11: completeness of every slice ----------------------------------------------------------------


def test_11a_a_short_page_is_paged_again_not_lost(many):
    """One short page in the middle of a slice: the slice is paged again and all 1,500 arrive."""
    hit = []

    def hook(number, variables):
        if _after_cursor(variables) and not hit:
            hit.append(number)
            return "short_page"
        return None

    waits: list[float] = []
    with GitHubSandbox(many, tokens={TOKEN}, fault_hook=hook) as sandbox:
        result, client = _crawl_month(sandbox, waits)
    assert sorted(n["id"] for n in result.repositories) == sorted(r.node_id for r in many)
    assert dict(result.repaged) == {"short_page": 1} and result.duplicates == 0
    assert client.stats.retries["incomplete_slice:short_page"] == 1 and waits == [0.01]


def test_11b_a_null_node_is_an_error_and_a_persistent_one_fails_the_crawl(many):
    with GitHubSandbox(many, tokens={TOKEN}, fault_hook=lambda n, v: "null_node" if n == 3 else None) as sandbox:
        result, _ = _crawl_month(sandbox)
    assert len(result.repositories) == 1_500 and dict(result.repaged) == {"null_node": 1}
    with (
        GitHubSandbox(many, tokens={TOKEN}, fault_hook=lambda n, v: "null_node" if n >= 3 else None) as sandbox,
        pytest.raises(IncompleteCrawl, match=r"stayed incomplete after 3 pagings \(null_node\)"),
    ):
        _crawl_month(sandbox)


def test_11c_null_end_cursor_with_a_next_page_fails_without_looping(many):
    with (
        GitHubSandbox(many, tokens={TOKEN}, fault_hook=lambda n, v: "null_cursor") as sandbox,
        pytest.raises(IncompleteCrawl, match="null_end_cursor"),
    ):
        _crawl_month(sandbox)
    # The probe of the whole month (1,500 > 1,000), then the first half's slice (its probe page is its first
    # paging): three pagings of one page each, then the crawl stops. No restart from an empty cursor.
    assert len(sandbox.state.requests) == 4
    assert all(json.loads(r["body"])["variables"]["after"] is None for r in sandbox.state.requests)


def test_11d_a_slice_is_compared_with_min_of_count_and_1000():
    """A one-page slice that silently leaves out a node (no next page to notice it by): 49 of 50 fails."""
    repos = _repos(50)
    with (
        GitHubSandbox(repos, tokens={TOKEN}, fault_hook=lambda n, v: "short_page") as sandbox,
        pytest.raises(IncompleteCrawl, match="captured_49_of_50"),
    ):
        _crawl_month(sandbox)


def test_11e_transient_200_errors_are_retried_permanent_ones_fail_at_once(many):
    faults = {1: "something_went_wrong", 2: "rate_limit_200", 3: "bad_gateway"}
    with GitHubSandbox(many, tokens={TOKEN}, faults=faults) as sandbox:
        result, client = _crawl_month(sandbox)
    assert len(result.repositories) == 1_500
    assert dict(client.stats.retries) == {
        "graphql_something_went_wrong": 1,
        "graphql_rate_limit": 1,
        "http_502": 1,
    }
    with (
        GitHubSandbox(many, tokens={TOKEN}, faults={1: "forbidden"}) as sandbox,
        pytest.raises(GitHubError, match="FORBIDDEN|Resource not accessible"),
    ):
        _crawl_month(sandbox)
    assert len(sandbox.state.requests) == 1  # not retried


def test_11f_secondary_limit_backoff_grows_and_is_bounded():
    repos = _repos(50)
    faults = {n: "secondary_no_retry_after" for n in range(1, 6)}
    policy = RetryPolicy(backoff_seconds=0.01, max_secondary_wait_seconds=500.0)
    waits: list[float] = []
    sandbox = GitHubSandbox(repos, tokens={TOKEN}, faults=faults | {7: "secondary_no_retry_after"})
    with sandbox, GitHubGraphQL(TOKEN, sandbox.endpoint, policy, sleep=waits.append) as client:
        client.search_page("language:Python")  # requests 1-6: five limits, then an answer
        client.search_page("language:Python")  # request 7: the streak starts again after a success
    assert waits == [60.0, 120.0, 240.0, 480.0, 500.0, 60.0]
    assert client.stats.retries["secondary_rate_limit"] == 6


def test_11g_retry_after_as_http_date_or_garbage_never_crashes():
    repos = _repos(10)
    waits: list[float] = []
    faults = {1: "secondary_http_date", 2: "secondary_garbage"}
    sandbox = GitHubSandbox(repos, tokens={TOKEN}, faults=faults, retry_after_seconds=30)
    with sandbox, GitHubGraphQL(TOKEN, sandbox.endpoint, POLICY, sleep=waits.append) as client:
        page = client.search_page("language:Python")
    assert page["repositoryCount"] == 10
    assert 28.0 <= waits[0] <= 31.0  # the date, 30 s ahead, read as seconds from now
    assert waits[1] == 120.0  # garbage: the growing secondary backoff (second limit in a row)


def test_11h_a_repository_gaining_a_star_mid_crawl_is_not_lost():
    """More than 1,000 on one day: the star split probes the top; the top repository then gains a star."""
    repos = _repos(1_100, crowded_day=15)
    top = max(repos, key=lambda r: r.stargazer_count)

    def hook(number, variables):
        if "sort:stars-desc" in variables.get("q", ""):
            top.stargazer_count += 1  # after the probe read it, before its range is paged
        return None

    with GitHubSandbox(repos, tokens={TOKEN}, fault_hook=hook) as sandbox:
        result, _ = _crawl_month(sandbox)
    assert top.node_id in {n["id"] for n in result.repositories}
    assert len(result.repositories) == 1_100 and result.unreachable == 0
    assert any(s.endswith("..* created:2020-05-15..2020-05-15") for s in result.slices)  # open-ended top


def test_11i_one_day_one_star_count_over_1000_splits_by_time_of_day():
    repos = _repos(1_300, crowded_day=9, stars=1_500)
    with GitHubSandbox(repos, tokens={TOKEN}) as sandbox:
        result, _ = _crawl_month(sandbox)
    assert len(result.repositories) == 1_300 and result.unreachable == 0
    assert any("created:2020-05-09T00:00:00Z..2020-05-09T11:59:59Z" in s for s in result.slices)


# -- item 11 at the asset: a failing or shrinking re-crawl never deletes stored rows ----------------------


def _crawl_asset(instance, storage, sandbox, allow_shrink: bool | None = None, raise_on_error: bool = True):
    resources = {
        "storage": storage,
        "code_github": CodeCorpusGitHubResource(
            endpoint=sandbox.endpoint, token=TOKEN, backoff_seconds=0.01, slice_backoff_seconds=0.01
        ),
        "code_corpus": CodeCorpusSettingsResource(),
    }
    run_config = None
    if allow_shrink is not None:
        run_config = {"ops": {"github_repositories": {"config": {"allow_shrink": allow_shrink}}}}
    return dg.materialize(
        ASSETS,
        selection=["github_repositories"],
        instance=instance,
        resources=resources,
        partition_key=f"{MONTH}-01",
        run_config=run_config,
        raise_on_error=raise_on_error,
    )


def test_11j_recrawl_that_loses_pages_or_repositories_fails_and_keeps_the_stored_version(few, instance, storage):
    with GitHubSandbox(few, tokens={TOKEN}) as sandbox:
        assert _crawl_asset(instance, storage, sandbox).success
    store = REPOSITORIES.store(storage)
    version = store.version()
    assert store.count() == 300
    # Every page after the first is short: the slice stays incomplete, the run fails, nothing is written.
    with GitHubSandbox(few, tokens={TOKEN}, fault_hook=lambda n, v: "short_page" if v.get("after") else None) as s:
        failed = _crawl_asset(instance, storage, s, raise_on_error=False)
    assert not failed.success and store.version() == version and store.count() == 300
    # Four repositories gone (as the 2,500 -> 2,496): refused unless allowed, then written.
    with GitHubSandbox(few[4:], tokens={TOKEN}) as sandbox:
        shrunk = _crawl_asset(instance, storage, sandbox, raise_on_error=False)
        assert not shrunk.success and store.version() == version and store.count() == 300
        failure = next(e for e in shrunk.all_events if e.event_type_value == "STEP_FAILURE")
        user_failure = failure.step_failure_data.user_failure_data
        assert user_failure.metadata["shrunk_months"].value == {f"{MONTH}-01": {"previous": 300, "new": 296}}
        assert _crawl_asset(instance, storage, sandbox, allow_shrink=True).success
    assert store.count() == 296 and store.version() == version + 1


def test_9a_hostile_clone_urls_are_quarantined_with_reasons(few, instance, storage):
    hostile = _repos(3, month=MONTH)
    for repo, url in zip(hostile, ["file:///etc", "/srv/git/secret.git", "http://evil.example/x/y"], strict=True):
        repo.database_id += 10_000
        repo.url = url
    with GitHubSandbox(few + hostile, tokens={TOKEN}) as sandbox:
        assert _crawl_asset(instance, storage, sandbox).success
    assert REPOSITORIES.store(storage).count() == 300
    stored_urls = REPOSITORIES.store(storage).read(columns=["url"])["url"].to_pylist()
    assert all(u.startswith(sandbox.base + "/fill/") for u in stored_urls)
    quarantine = storage.quarantine(REPOSITORIES.name).store.read().to_pylist()
    assert sorted(q["reason"] for q in quarantine) == [
        "unsafe_clone_url: host 'evil.example' is not '127.0.0.1:{}'".format(sandbox.base.rsplit(":", 1)[1]),
        "unsafe_clone_url: not a URL (a local path?): /srv/git/secret.git",
        "unsafe_clone_url: scheme 'file' not allowed (only http)",
    ]


# -- item 9: clone URLs and the git extractors --------------------------------------------------------------


def test_9b_clone_url_rules():
    ok = ["https://github.com/psf/requests", "https://github.com/psf/requests.git", "https://github.com/a-b/c.d_e"]
    assert [check_clone_url(u) for u in ok] == ok
    refused = {
        "file:///etc/passwd": "scheme 'file'",
        "/home/me/repo.git": "not a URL",
        "../repo": "not a URL",
        "ext::sh -c touch% /tmp/pwned": "not a URL",
        "http://github.com/a/b": "scheme 'http'",
        "https://token@github.com/a/b": "credentials",
        "https://github.com.evil.io/a/b": "host",
        "https://github.com/a/b?ref=x": "query",
        "https://github.com/a/../b": "path",
        "https://github.com/a/b/c": "path",
        "https://github.com/-x/b": "path",
    }
    for url, why in refused.items():
        with pytest.raises(RepositoryParseError, match=f"^unsafe_clone_url: .*{why}"):
            check_clone_url(url)
    assert check_clone_url("http://127.0.0.1:8123/o/n", "http://127.0.0.1:8123") == "http://127.0.0.1:8123/o/n"


def _bare_repo(path: Path, files: dict[str, bytes]) -> Path:
    _fast_import(path, files, datetime(2020, 5, 1, tzinfo=UTC), "main", "init")
    return path


def test_9c_local_urls_are_never_cloned_even_when_they_exist(tmp_path):
    real = _bare_repo(tmp_path / "local.git", {"secret.py": b"TOKEN = 'x'\n"})
    row = {"url": real.as_uri(), "name_with_owner": "x/local", "created_at": 0, "repo_id": "R1"}
    ((_, result),) = snapshot_all([row], tmp_path, 1000)
    assert isinstance(result, RepositoryParseError)
    selection = select_files([(row, result)])
    assert selection.refused_repos == [("x/local", "unsafe_clone_url: scheme 'file' not allowed (only https)")]
    assert selection.kept == [] and selection.failed_repos == []
    # git itself refuses file:// too (GIT_ALLOW_PROTOCOL), should a caller skip the check.
    with pytest.raises(Exception, match="transport 'file' not allowed"):
        clone(real.as_uri(), tmp_path / "clone.git")


def _hostile_tree_repo(path: Path, mode: str, name: str) -> Path:
    """A commit whose root tree holds one hostile entry next to an ordinary file (written with
    `hash-object --literally`, as a hostile server could send it)."""
    _bare_repo(path, {"ok.py": b"x = 1\n"})

    def git(*args: str, data: bytes | None = None) -> str:
        done = subprocess.run(["git", "--git-dir", str(path), *args], input=data, capture_output=True, check=True)
        return done.stdout.decode().strip()

    blob = git("hash-object", "-w", "--stdin", data=b"print('escaped')\n")
    ok = git("rev-parse", "main:ok.py")

    def tree(entries: list[tuple[str, str, str]]) -> str:
        raw = b"".join(
            f"{m} {n}".encode() + b"\0" + bytes.fromhex(sha) for m, n, sha in sorted(entries, key=lambda e: e[1])
        )
        return git("hash-object", "-w", "-t", "tree", "--literally", "--stdin", data=raw)

    hostile = tree([("100644", "evil.py", blob)]) if mode == "40000" else blob
    root = tree([(mode, name, hostile), ("100644", "ok.py", ok)])
    git("update-ref", "refs/heads/main", git("commit-tree", root, "-m", "hostile", "-p", "main"))
    return path


@pytest.mark.parametrize(
    ("mode", "name"),
    [("40000", ".."), ("40000", ".git"), ("40000", ".GIT"), ("100644", "/abs.py"), ("40000", "."), ("40000", "git~1")],
)
def test_9d_both_extractors_refuse_the_same_hostile_tree_entries(tmp_path, mode, name):
    repo = _hostile_tree_repo(tmp_path / "hostile.git", mode, name)
    errors = []
    for extract in (extract_with_cli, extract_with_gitpython):
        with pytest.raises(UnsafeTree) as caught:
            extract(repo, 1000)
        errors.append(str(caught.value))
    assert errors[0] == errors[1] and errors[0].startswith("unsafe_tree: ")
    row = {"url": "", "name_with_owner": "h/hostile", "created_at": 0, "repo_id": "R1", "license_spdx": "MIT"}
    selection = select_files([(row, caught.value)])
    assert selection.refused_repos == [("h/hostile", errors[0])] and selection.kept == []
    assert selection.failed_repos == [] and selection.files_seen == 0


def test_9e_reject_shares_count_repositories_against_repositories(tmp_path, instance, storage):
    """Three unlicensed repositories and one licensed repository with one file: 3 of 4 repositories (75%),
    0 of 1 files, so the month is written (the old check said "3 of 1 records rejected (300%)")."""
    when = datetime.fromisoformat(f"{MONTH}-03T00:00:00+00:00")
    repos = []
    for i, spdx in enumerate(["MIT", "GPL-3.0", None, "NOASSERTION"]):
        git_dir = _bare_repo(tmp_path / "git" / "own" / f"p{i}.git", {"main.py": f"VALUE_{i} = {i}\n".encode()})
        repos.append(
            SandboxRepo(900 + i, "own", f"p{i}", git_dir.as_uri(), 2000 + i, spdx, when, when, head_oid="0" * 40)
        )
    with GitHubSandbox(repos, tokens={TOKEN}) as sandbox:
        resources = {
            "storage": storage,
            "code_github": CodeCorpusGitHubResource(endpoint=sandbox.endpoint, token=TOKEN, backoff_seconds=0.01),
            "code_corpus": CodeCorpusSettingsResource(),
        }
        result = dg.materialize(
            ASSETS,
            selection=["github_repositories", "source_files"],
            instance=instance,
            resources=resources,
            partition_key=f"{MONTH}-01",
        )
    assert result.success
    kept = SOURCE_FILES.store(storage).read(Window.of("created_month", f"{MONTH}-01")).to_pylist()
    assert [(k["name_with_owner"], k["path"]) for k in kept] == [("own/p0", "main.py")]
    reasons = sorted(q["reason"] for q in storage.quarantine(SOURCE_FILES.name).store.read().to_pylist())
    assert reasons == [
        "licence_not_allowed: GPL-3.0",
        "licence_not_allowed: NOASSERTION",
        "licence_not_allowed: None",
    ]
    # Over the repository limit it fails with a message in repositories, and the quarantine is kept.
    with GitHubSandbox(repos, tokens={TOKEN}) as sandbox:
        resources["code_github"] = CodeCorpusGitHubResource(endpoint=sandbox.endpoint, token=TOKEN)
        resources["code_corpus"] = CodeCorpusSettingsResource(max_rejected_repo_share=0.5)
        version = SOURCE_FILES.store(storage).version()
        failed = dg.materialize(  # the stored clone URLs name the first sandbox's port: crawl again first
            ASSETS,
            selection=["github_repositories", "source_files"],
            instance=instance,
            resources=resources,
            partition_key=f"{MONTH}-01",
            raise_on_error=False,
        )
    assert not failed.success and SOURCE_FILES.store(storage).version() == version
    failure = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
    assert "3 of 4 repositories rejected (75.0% > 50%)" in failure.step_failure_data.error.to_string()
    assert storage.quarantine(SOURCE_FILES.name).store.count() == 3
