"""GitHub GraphQL repository search crawler.

GitHub's search returns at most 1,000 results per query, so `crawl` slices the query by creation
date (halving the range) and, when a single day still matches more than 1,000, by star range,
until every slice fits; repositories are de-duplicated by node id across slices.
`GitHubGraphQL` retries what is transient (5xx, timeouts, primary and secondary rate limits, with
`Retry-After`, `x-ratelimit-reset` or bounded exponential backoff) and fails loudly on the rest
(bad credentials, query errors); attempts and backoff are `foundation.retries.retrying`'s, with GitHub's
own waits plugged in through tenacity's wait protocol. The token is only ever put in the Authorization header.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import tenacity

from foundation.retries import retrying

log = logging.getLogger(__name__)

API_URL = "https://api.github.com/graphql"
PAGE_SIZE = 100
RESULT_CAP = 1_000

REPOSITORY_FIELDS = """
    ... on Repository {
      id databaseId nameWithOwner url stargazerCount isFork isArchived diskUsage createdAt pushedAt
      licenseInfo { spdxId }
      defaultBranchRef { name target { oid } }
    }"""

SEARCH_QUERY = (
    """query RepositorySearch($q: String!, $first: Int!, $after: String) {
  rateLimit { cost limit remaining used resetAt }
  search(type: REPOSITORY, query: $q, first: $first, after: $after) {
    repositoryCount
    pageInfo { hasNextPage endCursor }
    nodes {"""
    + REPOSITORY_FIELDS
    + """
    }
  }
}"""
)


class GitHubError(RuntimeError):
    """Not worth retrying: bad credentials, a rejected query, or retries/waits exhausted."""


class _Transient(Exception):
    """A failure worth another attempt: `wait` is what GitHub asked for (None: exponential backoff, at least
    `at_least` seconds); `reason` names it in the retry counts."""

    def __init__(self, reason: str, wait: float | None = None, at_least: float = 0.0) -> None:
        super().__init__(reason)
        self.reason, self.wait, self.at_least = reason, wait, at_least


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    backoff_seconds: float = 1.0  # first exponential backoff; doubles per attempt
    max_backoff_seconds: float = 60.0
    max_wait_seconds: float = 3_700.0  # longest single wait for a rate-limit reset we accept


@dataclass
class CrawlStats:
    requests: int = 0
    retries: Counter = field(default_factory=Counter)  # reason -> count
    waited_seconds: float = 0.0
    rate_limit_remaining: int | None = None
    cost: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": dict(self.retries),
            "waited_seconds": round(self.waited_seconds, 2),
            "rate_limit_remaining": self.rate_limit_remaining,
            "cost": self.cost,
        }


class GitHubGraphQL:
    """A GraphQL client for GitHub with rate-limit aware retries."""

    def __init__(
        self,
        token: str,
        endpoint: str = API_URL,
        policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not token:
            raise GitHubError("no GitHub token configured (set the environment variable named by the resource)")
        self.endpoint = endpoint
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.stats = CrawlStats()
        self._reset_at: float | None = None
        self._client = httpx.Client(
            timeout=timeout,
            headers={"Authorization": f"bearer {token}", "User-Agent": "storefront-code-corpus"},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> GitHubGraphQL:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def _account(self, seconds: float, reason: str) -> float:
        """Check a wait against the policy, log and count it; return the seconds to sleep."""
        if seconds > self.policy.max_wait_seconds:
            raise GitHubError(
                f"GitHub asks to wait {seconds:.0f}s ({reason}), more than the allowed "
                f"{self.policy.max_wait_seconds:.0f}s"
            )
        log.warning("GitHub %s: waiting %.1fs", reason, seconds)
        self.stats.retries[reason] += 1
        self.stats.waited_seconds += seconds
        return max(seconds, 0.0)

    def _until_reset(self, response: httpx.Response | None) -> float:
        reset = response.headers.get("x-ratelimit-reset") if response is not None else None
        at = float(reset) if reset else self._reset_at
        return max((at or time.time() + 60) - time.time(), 0.0) + 0.5

    def _retrying(self) -> tenacity.Retrying:
        """The shared retry policy (attempts, exponential backoff) with GitHub's own waits: tenacity's wait
        protocol asks each failure how long to wait, so `Retry-After` and `x-ratelimit-reset` are honoured."""
        policy = self.policy
        base = retrying(
            _Transient,
            attempts=policy.max_attempts,
            first_wait=policy.backoff_seconds,
            max_wait=policy.max_backoff_seconds,
        )

        def wait(state: tenacity.RetryCallState) -> float:
            failure = state.outcome.exception() if state.outcome else None
            assert isinstance(failure, _Transient)
            seconds = failure.wait if failure.wait is not None else max(base.wait(state), failure.at_least)
            return self._account(seconds, failure.reason)

        return base.copy(wait=wait, sleep=self.sleep)

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST one query; return its `data`, retrying transient failures within the policy."""
        if self.stats.rate_limit_remaining == 0 and self._reset_at:  # spent: wait for the window
            self.sleep(self._account(max(self._reset_at - time.time(), 0.0) + 0.5, "primary_rate_limit"))
            self.stats.rate_limit_remaining = None
        try:
            return self._retrying()(self._attempt, query, variables)
        except _Transient:
            raise GitHubError(
                f"GitHub still failing after {self.policy.max_attempts} attempts: {dict(self.stats.retries)}"
            ) from None

    def _attempt(self, query: str, variables: dict[str, Any] | None) -> dict[str, Any]:
        """One POST: the data, a `_Transient` failure to retry, or a `GitHubError` for the rest."""
        self.stats.requests += 1
        try:
            response = self._client.post(self.endpoint, json={"query": query, "variables": variables or {}})
        except httpx.TransportError as exc:
            raise _Transient(f"transport_{type(exc).__name__}") from exc
        self._note_rate_limit(response)
        status = response.status_code
        if status == 401:
            raise GitHubError(f"GitHub rejected the credentials (401): {_message(response)}")
        if status in (403, 429):
            if retry_after := response.headers.get("retry-after"):
                raise _Transient("secondary_rate_limit", wait=float(retry_after))
            if response.headers.get("x-ratelimit-remaining") == "0":
                raise _Transient("primary_rate_limit", wait=self._until_reset(response))
            if status == 429 or "rate limit" in _message(response).lower():
                raise _Transient("secondary_rate_limit", at_least=60.0)
            raise GitHubError(f"GitHub refused the request ({status}): {_message(response)}")
        if status >= 500:
            raise _Transient(f"http_{status}")
        if status != 200:
            raise GitHubError(f"unexpected HTTP {status} from GitHub: {_message(response)}")
        body = response.json()
        errors = body.get("errors") or []
        if any(e.get("type") == "RATE_LIMITED" for e in errors):
            raise _Transient("primary_rate_limit", wait=self._until_reset(response))
        if errors:
            raise GitHubError("GitHub rejected the query: " + "; ".join(e.get("message", "?") for e in errors))
        data = body.get("data") or {}
        if limit := data.get("rateLimit"):
            self.stats.cost += int(limit.get("cost") or 0)
            self.stats.rate_limit_remaining = int(limit["remaining"])
            self._reset_at = datetime.fromisoformat(limit["resetAt"].replace("Z", "+00:00")).timestamp()
        return data

    def _note_rate_limit(self, response: httpx.Response) -> None:
        if (remaining := response.headers.get("x-ratelimit-remaining")) is not None:
            self.stats.rate_limit_remaining = int(remaining)
        if reset := response.headers.get("x-ratelimit-reset"):
            self._reset_at = float(reset)

    def search_page(self, query: str, after: str | None = None, first: int = PAGE_SIZE) -> dict[str, Any]:
        return self.execute(SEARCH_QUERY, {"q": query, "first": first, "after": after})["search"]

    def search(self, query: str) -> Iterator[dict[str, Any]]:
        """Every reachable node of one search (at most 1,000), following the cursor."""
        after = None
        while True:
            page = self.search_page(query, after)
            yield from (n for n in page["nodes"] if n)
            if not page["pageInfo"]["hasNextPage"]:
                return
            after = page["pageInfo"]["endCursor"]


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", ""))[:300]
    except ValueError:
        return response.text[:300]


# -- slicing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchSlice:
    """One search: a creation-date range (inclusive days) and a star range (None = unbounded)."""

    created_from: date
    created_to: date
    stars_from: int
    stars_to: int | None = None
    language: str = "Python"
    extra: str = ""

    def query(self) -> str:
        stars = f"stars:{self.stars_from}..{'*' if self.stars_to is None else self.stars_to}"
        parts = [
            f"language:{self.language}" if self.language else "",
            stars,
            f"created:{self.created_from.isoformat()}..{self.created_to.isoformat()}",
            self.extra,
        ]
        return " ".join(p for p in parts if p)


@dataclass
class CrawlResult:
    repositories: list[dict[str, Any]]
    slices: list[str] = field(default_factory=list)  # the queries that were paged through
    duplicates: int = 0  # nodes seen in more than one slice (results shifting while crawling)
    unreachable: int = 0  # matches beyond the cap of a slice that could not be split further


def crawl(
    client: GitHubGraphQL,
    first_day: date,
    last_day: date,
    stars_above: int = 1000,
    language: str = "Python",
    extra: str = "",
) -> CrawlResult:
    """All repositories created in [first_day, last_day] with more than `stars_above` stars."""
    result = CrawlResult(repositories=[])
    seen: dict[str, dict[str, Any]] = {}

    def collect(s: SearchSlice) -> None:
        page = client.search_page(s.query())
        count = page["repositoryCount"]
        if count > RESULT_CAP and s.created_from < s.created_to:
            middle = s.created_from + timedelta(days=(s.created_to - s.created_from).days // 2)
            collect(SearchSlice(s.created_from, middle, s.stars_from, s.stars_to, s.language, s.extra))
            collect(
                SearchSlice(middle + timedelta(days=1), s.created_to, s.stars_from, s.stars_to, s.language, s.extra)
            )
            return
        if count > RESULT_CAP:
            top = s.stars_to
            if top is None:  # find the most-starred match to bound the range
                best = client.search_page(s.query() + " sort:stars-desc", first=1)["nodes"]
                top = int(best[0]["stargazerCount"]) if best else s.stars_from
            if top > s.stars_from:
                middle = (s.stars_from + top) // 2
                collect(SearchSlice(s.created_from, s.created_to, s.stars_from, middle, s.language, s.extra))
                collect(SearchSlice(s.created_from, s.created_to, middle + 1, top, s.language, s.extra))
                return
            result.unreachable += count - RESULT_CAP
            log.warning("%d matches of %r are beyond GitHub's 1,000-result cap", count - RESULT_CAP, s.query())
        result.slices.append(s.query())
        nodes = [n for n in page["nodes"] if n]
        after = page["pageInfo"]["endCursor"]
        while page["pageInfo"]["hasNextPage"]:
            page = client.search_page(s.query(), after)
            nodes.extend(n for n in page["nodes"] if n)
            after = page["pageInfo"]["endCursor"]
        for node in nodes:
            if node["id"] in seen:
                result.duplicates += 1
            seen[node["id"]] = node

    collect(SearchSlice(first_day, last_day, stars_above + 1, None, language, extra))
    result.repositories = list(seen.values())
    return result


# -- parsing -------------------------------------------------------------------------------------


class RepositoryParseError(ValueError):
    """A search node without what the corpus needs; the message starts with the quarantine reason."""


def _timestamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC) if value else None


def parse_repository(node: dict[str, Any]) -> dict[str, Any]:
    """A search node (today's schema, or 2018's `stargazers { totalCount }` shape) as a table row."""
    for name in ("nameWithOwner", "url"):
        if not node.get(name):
            raise RepositoryParseError(f"missing_field:{name}")
    stars = node.get("stargazerCount")
    if stars is None:
        stars = (node.get("stargazers") or {}).get("totalCount")
    if stars is None:
        raise RepositoryParseError("missing_field:stargazerCount")
    created = _timestamp(node.get("createdAt"))
    if created is None:
        raise RepositoryParseError("missing_field:createdAt")
    branch = node.get("defaultBranchRef") or {}
    return {
        "repo_id": str(node.get("id") or node["nameWithOwner"]),
        "database_id": node.get("databaseId"),
        "name_with_owner": node["nameWithOwner"],
        "url": node["url"],
        "stars": int(stars),
        "license_spdx": (node.get("licenseInfo") or {}).get("spdxId"),
        "default_branch": branch.get("name"),
        "head_oid": (branch.get("target") or {}).get("oid"),
        "created_at": created,
        "pushed_at": _timestamp(node.get("pushedAt")),
        "is_fork": bool(node.get("isFork", False)),
        "is_archived": bool(node.get("isArchived", False)),
        "disk_usage_kb": int(node["diskUsage"]) if node.get("diskUsage") is not None else None,
    }
