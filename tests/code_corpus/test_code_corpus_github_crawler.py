"""The sandbox GitHub answers like the real API; the crawler pages, slices, retries and parses."""

from __future__ import annotations

import csv
import logging
from datetime import date

import httpx
import pytest

from sandbox.code_corpus.repositories import CONTENT_MONTHS, FILLER_CROWDED_DAY, FILLER_MONTH
from scrapers.code_corpus.github import (
    GitHubError,
    GitHubGraphQL,
    RepositoryParseError,
    RetryPolicy,
    SearchSlice,
    crawl,
    parse_repository,
)

FAST = RetryPolicy(backoff_seconds=0.01)


def _post(github, body, token):
    headers = {"Authorization": f"bearer {token}"} if token else {}
    return httpx.post(github.endpoint, json=body, headers=headers)


def test_auth_is_required_and_checked(github, github_token):
    query = {"query": "{ rateLimit { remaining } }"}
    assert _post(github, query, None).status_code == 401
    bad = _post(github, query, "wrong")
    assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"
    ok = _post(github, query, github_token)
    assert ok.status_code == 200 and ok.json()["data"]["rateLimit"]["remaining"] == 4_999
    assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-used"} <= set(ok.headers)


def test_unknown_fields_and_page_sizes_are_rejected_like_github(github, github_token):
    unknown = _post(
        github,
        {"query": '{ search(type: REPOSITORY, query: "x", first: 1) { nodes { ... on Repository { watchers } } } }'},
        github_token,
    ).json()
    assert unknown["errors"][0]["extensions"] == {
        "code": "undefinedField",
        "typeName": "Repository",
        "fieldName": "watchers",
    }
    too_many = _post(
        github, {"query": '{ search(type: REPOSITORY, query: "x", first: 101) { repositoryCount } }'}, github_token
    ).json()
    assert "exceeds the `first` limit of 100 records" in too_many["errors"][0]["message"]
    missing = _post(
        github, {"query": '{ search(type: REPOSITORY, query: "x") { repositoryCount } }'}, github_token
    ).json()
    assert missing["errors"][0]["type"] == "MISSING_PAGINATION_BOUNDARIES"


def test_search_stops_at_one_thousand_results(github, github_token, universe):
    with GitHubGraphQL(github_token, github.endpoint, FAST) as client:
        query = f"language:Python created:{FILLER_MONTH}-01..{FILLER_MONTH}-30"
        first = client.search_page(query)
        assert first["repositoryCount"] == len(universe.by_month(FILLER_MONTH)) > 1_000
        assert len(list(client.search(query))) == 1_000


def test_crawl_slices_by_date_and_stars(github, github_token, universe):
    with GitHubGraphQL(github_token, github.endpoint, FAST) as client:
        result = crawl(client, date.fromisoformat(f"{FILLER_MONTH}-01"), date.fromisoformat(f"{FILLER_MONTH}-30"))
    ids = [n["id"] for n in result.repositories]
    assert sorted(ids) == sorted(r.node_id for r in universe.by_month(FILLER_MONTH))
    crowded = f"created:{FILLER_MONTH}-{FILLER_CROWDED_DAY:02d}..{FILLER_MONTH}-{FILLER_CROWDED_DAY:02d}"
    assert sum(crowded in s for s in result.slices) >= 2  # the crowded day needed star ranges
    assert result.duplicates == 0 and result.unreachable == 0


def test_retries_transient_errors_and_gives_up_within_bounds(github, github_token):
    github.state.faults.update({1: "secondary", 2: "bad_gateway", 3: "abuse_429"})
    waits: list[float] = []
    with GitHubGraphQL(github_token, github.endpoint, FAST, sleep=waits.append) as client:
        page = client.search_page(SearchSlice(date(2019, 1, 1), date(2019, 1, 31), 1001).query())
    assert page["repositoryCount"] == len(
        [r for r in github.state.repos if r.created_at.strftime("%Y-%m") == CONTENT_MONTHS[0]]
    )
    assert waits[0] == 1.0 and waits[2] == 1.0  # Retry-After honoured
    assert dict(client.stats.retries) == {"secondary_rate_limit": 2, "http_502": 1}
    github.state.faults.update({n: "bad_gateway" for n in range(5, 20)})
    with (
        GitHubGraphQL(
            github_token, github.endpoint, RetryPolicy(max_attempts=3, backoff_seconds=0.01), sleep=waits.append
        ) as client,
        pytest.raises(GitHubError, match="after 3 attempts"),
    ):
        client.search_page("language:Python")


def test_bad_credentials_fail_loudly_and_the_token_is_never_logged(github, caplog):
    secret = "ghp_secret_value_never_logged"
    caplog.set_level(logging.DEBUG)
    with GitHubGraphQL(secret, github.endpoint, FAST) as client, pytest.raises(GitHubError, match="credentials") as err:
        client.search_page("language:Python")
    assert secret not in str(err.value) and secret not in caplog.text


def test_parser_reads_current_nodes(github, github_token, universe):
    with GitHubGraphQL(github_token, github.endpoint, FAST) as client:
        node = client.search_page("language:Python project-00")["nodes"][0]
    row = parse_repository(node, github.base)
    repo = next(r for r in universe.repos if r.name == "project-00")
    assert row["repo_id"] == repo.node_id and row["stars"] == repo.stargazer_count
    assert row["license_spdx"] == repo.license_spdx and row["head_oid"] == repo.head_oid
    assert row["created_at"] == repo.created_at


@pytest.mark.real_data
def test_parser_replays_real_2018_search_results(shared_data, missing):
    """100 real `stars:>1000 language:Python` results (2018 query shape, flattened to CSV)."""
    path = shared_data / "github" / "search_stars_gt_1000_python_repo_list.csv"
    if not path.exists():
        missing(f"real GitHub search results not present at {path}")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 100
    parsed, reasons = [], []
    for row in rows:
        # The original query's node shape: `owner { login }`, `stargazers { totalCount }`, no createdAt.
        node = {
            "nameWithOwner": row["nameWithOwner"],
            "url": row["url"],
            "diskUsage": int(row["diskUsage"]),
            "owner": {"login": row["owner"]},
            "stargazers": {"totalCount": int(row["stargazers"])},
        }
        try:
            parsed.append(parse_repository(node))  # real github.com clone URLs pass the URL check
        except RepositoryParseError as err:
            reasons.append(str(err))
        node["createdAt"] = "2018-01-01T00:00:00Z"
        parsed.append(parse_repository(node))
    # Without createdAt a repository cannot be placed in a month: every one is quarantined for that reason.
    assert reasons == ["missing_field:createdAt"] * 100
    assert all(p["stars"] > 1000 and p["url"].startswith("https://github.com/") for p in parsed)
    assert parsed[0]["name_with_owner"] == "vinta/awesome-python" and parsed[0]["disk_usage_kb"] == 3807
    assert len({p["name_with_owner"] for p in parsed}) == 100
