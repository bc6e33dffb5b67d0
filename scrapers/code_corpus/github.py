"""GitHub GraphQL repository search crawler.

GitHub's search returns at most 1,000 results per query, so `crawl` slices the query by creation
date (halving the range), then, when a single day still matches more than 1,000, by star range (the
upper half stays open-ended, so a repository gaining stars mid-crawl is not lost), then by time of day
(`created:` takes date-times), until every slice fits; repositories are de-duplicated by node id.
Every slice must deliver exactly `min(repositoryCount, 1000)` distinct nodes: a short page, a null node,
a null `endCursor` with `hasNextPage`, or a count that moves while paging makes the slice incomplete; it is
re-paged from the start (bounded attempts), then the crawl fails (`IncompleteCrawl`) instead of losing rows.
`GitHubGraphQL` retries what is transient (5xx, timeouts, 200-status "Something went wrong" / `RATE_LIMIT`
errors, primary and secondary rate limits, with `Retry-After` in both forms, `x-ratelimit-reset` or bounded
backoff; a secondary limit without `Retry-After` waits 60 s, 120 s, 240 s, ... up to a bound) and fails
loudly on the rest (bad credentials, query errors); attempts and backoff are `foundation.retries.retrying`'s,
with GitHub's own waits plugged in through tenacity's wait protocol. Waits go through the client's injectable
`sleep` and `clock`. The token is only ever put in the Authorization header.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import tenacity

from foundation.outbound import retry_after_seconds
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


class IncompleteCrawl(GitHubError):
    """A slice still delivered fewer (or other) nodes than GitHub counted after every attempt."""


class _IncompleteSlice(Exception):
    """One paging of a slice missed nodes (short page, null node, null cursor, count moved): page it again."""


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
    # A secondary limit without Retry-After: GitHub asks for "at least a minute" and longer waits when it repeats.
    secondary_wait_seconds: float = 60.0
    max_secondary_wait_seconds: float = 600.0
    slice_attempts: int = 3  # pagings of one slice before an incomplete slice fails the crawl
    slice_backoff_seconds: float = 5.0


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
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not token:
            raise GitHubError("no GitHub token configured (set the environment variable named by the resource)")
        self.endpoint = endpoint
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.clock = clock
        self.stats = CrawlStats()
        self._reset_at: float | None = None
        self._secondary_streak = 0  # secondary limits in a row; reset by a successful response
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
        at = _number(reset) if reset else self._reset_at
        return max((at or self.clock() + 60) - self.clock(), 0.0) + 0.5

    def _secondary_wait(self, retry_after: str | None) -> float:
        """`Retry-After` (seconds or an HTTP-date) when usable; otherwise 60 s, 120 s, 240 s, ... (bounded)."""
        self._secondary_streak += 1
        now = datetime.fromtimestamp(self.clock(), UTC)
        policy = self.policy
        # The same bound as our own backoff: a hostile or broken header (a 5000-digit delay) must not park the crawl.
        if (asked := retry_after_seconds(retry_after, now=now, maximum=policy.max_secondary_wait_seconds)) is not None:
            return asked
        grown = policy.secondary_wait_seconds * 2 ** (self._secondary_streak - 1)
        return min(grown, policy.max_secondary_wait_seconds)

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
            self.sleep(self._account(max(self._reset_at - self.clock(), 0.0) + 0.5, "primary_rate_limit"))
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
            if response.headers.get("x-ratelimit-remaining") == "0" and "retry-after" not in response.headers:
                raise _Transient("primary_rate_limit", wait=self._until_reset(response))
            if "retry-after" in response.headers or status == 429 or "rate limit" in _message(response).lower():
                raise _Transient("secondary_rate_limit", wait=self._secondary_wait(response.headers.get("retry-after")))
            raise GitHubError(f"GitHub refused the request ({status}): {_message(response)}")
        if status >= 500:
            raise _Transient(f"http_{status}")
        if status != 200:
            raise GitHubError(f"unexpected HTTP {status} from GitHub: {_message(response)}")
        try:
            body = response.json()
        except ValueError:  # a proxy's HTML page or a cut-off body with status 200
            raise _Transient("invalid_json") from None
        if not isinstance(body, dict):
            raise _Transient("invalid_json")
        errors = [e if isinstance(e, dict) else {"message": str(e)} for e in body.get("errors") or []]
        if any(e.get("type") == "RATE_LIMITED" for e in errors):
            raise _Transient("primary_rate_limit", wait=self._until_reset(response))
        if transient := next((kind for e in errors if (kind := _transient_kind(e))), None):
            raise _Transient(transient)
        if errors:
            raise GitHubError("GitHub rejected the query: " + "; ".join(str(e.get("message", "?")) for e in errors))
        self._secondary_streak = 0
        data = body.get("data") or {}
        if limit := data.get("rateLimit"):
            self.stats.cost += int(limit.get("cost") or 0)
            self.stats.rate_limit_remaining = int(limit["remaining"])
            self._reset_at = datetime.fromisoformat(limit["resetAt"].replace("Z", "+00:00")).timestamp()
        return data

    def _note_rate_limit(self, response: httpx.Response) -> None:
        if (remaining := response.headers.get("x-ratelimit-remaining")) is not None:
            self.stats.rate_limit_remaining = int(_number(remaining) or 0)
        if (reset := _number(response.headers.get("x-ratelimit-reset"))) is not None:
            self._reset_at = reset

    def search_page(self, query: str, after: str | None = None, first: int = PAGE_SIZE) -> dict[str, Any]:
        search = self.execute(SEARCH_QUERY, {"q": query, "first": first, "after": after}).get("search")
        if not isinstance(search, dict) or not isinstance(search.get("pageInfo"), dict):
            raise GitHubError(f"GitHub answered without a search result for {query!r}")
        return search

    def search(self, query: str) -> Iterator[dict[str, Any]]:
        """Every reachable node of one search (at most 1,000), following the cursor; gaps raise."""
        after = None
        while True:
            page = self.search_page(query, after)
            if any(n is None for n in page["nodes"] or []):
                raise GitHubError(f"GitHub returned a null node for {query!r}")
            yield from page["nodes"] or []
            if not page["pageInfo"]["hasNextPage"]:
                return
            after = page["pageInfo"].get("endCursor")
            if not after:
                raise GitHubError(f"GitHub says there is a next page of {query!r} but gives no cursor")


# 200-status errors worth another attempt: GitHub's execution timeouts and its `RATE_LIMIT`/timeout types.
_TRANSIENT_TYPES = {
    "RATE_LIMIT": "graphql_rate_limit",
    "TIMEOUT": "graphql_timeout",
    "SERVICE_UNAVAILABLE": "graphql_unavailable",
}
_TRANSIENT_MESSAGE = re.compile(r"something went wrong while executing your query|timeout|timed out", re.IGNORECASE)


def _transient_kind(error: dict[str, Any]) -> str | None:
    if kind := _TRANSIENT_TYPES.get(str(error.get("type") or "")):
        return kind
    if _TRANSIENT_MESSAGE.search(str(error.get("message") or "")):
        return "graphql_something_went_wrong"
    return None


def _number(value: str | None) -> float | None:
    """A numeric header, or None when absent or not a finite number (a bad header must not crash the crawl)."""
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", ""))[:300]
    except ValueError:
        return response.text[:300]


# -- slicing -----------------------------------------------------------------------------------


_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class SearchSlice:
    """One search: a creation-time range (inclusive, to the second) and a star range (None = open-ended).

    `SearchSlice(date, date, ...)` means whole days; whole-day ranges are written as dates in the query,
    anything finer as UTC date-times (`created:2018-06-15T00:00:00Z..2018-06-15T11:59:59Z`).
    """

    created_from: date | datetime
    created_to: date | datetime
    stars_from: int
    stars_to: int | None = None
    language: str = "Python"
    extra: str = ""

    @property
    def start(self) -> datetime:
        return _instant(self.created_from, end=False)

    @property
    def end(self) -> datetime:
        return _instant(self.created_to, end=True)

    def query(self) -> str:
        stars = f"stars:{self.stars_from}..{'*' if self.stars_to is None else self.stars_to}"
        start, end = self.start, self.end
        if start.time() == datetime.min.time() and (end + _SECOND).time() == datetime.min.time():
            created = f"created:{start.date().isoformat()}..{end.date().isoformat()}"
        else:
            created = f"created:{start:%Y-%m-%dT%H:%M:%SZ}..{end:%Y-%m-%dT%H:%M:%SZ}"
        parts = [f"language:{self.language}" if self.language else "", stars, created, self.extra]
        return " ".join(p for p in parts if p)

    def with_created(self, start: datetime, end: datetime) -> SearchSlice:
        return SearchSlice(start, end, self.stars_from, self.stars_to, self.language, self.extra)

    def with_stars(self, low: int, high: int | None) -> SearchSlice:
        return SearchSlice(self.start, self.end, low, high, self.language, self.extra)


def _instant(value: date | datetime, end: bool) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    day = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return day + _DAY - _SECOND if end else day


@dataclass
class CrawlResult:
    repositories: list[dict[str, Any]]
    slices: list[str] = field(default_factory=list)  # the queries that were paged through
    duplicates: int = 0  # nodes seen in more than one slice (results shifting while crawling)
    unreachable: int = 0  # matches beyond the cap of a one-second, one-star-count slice (cannot be split)
    repaged: Counter = field(default_factory=Counter)  # why slices had to be paged again -> count


def page_slice(
    client: GitHubGraphQL, query: str, first_page: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(first page, every node) of one search of at most 1,000 reachable results, checked for completeness.

    Raises `_IncompleteSlice` when a page in the middle is short, a node is null, the cursor is missing while
    GitHub says there is more, the count moves while paging, or fewer distinct nodes than `min(count, 1000)`.
    """
    page = first_page if first_page is not None else client.search_page(query)
    first, count = page, page["repositoryCount"]
    nodes: dict[str, dict[str, Any]] = {}
    while True:
        items = page.get("nodes") or []
        if any(not isinstance(n, dict) or not n.get("id") for n in items):
            raise _IncompleteSlice("null_node")
        nodes.update((n["id"], n) for n in items)
        info = page["pageInfo"]
        if not info.get("hasNextPage"):
            break
        if not info.get("endCursor"):
            raise _IncompleteSlice("null_end_cursor")
        if len(items) < PAGE_SIZE:
            raise _IncompleteSlice("short_page")
        page = client.search_page(query, info["endCursor"])
        if page["repositoryCount"] != count:
            raise _IncompleteSlice("count_changed")
    if len(nodes) != min(count, RESULT_CAP):
        raise _IncompleteSlice(f"captured_{len(nodes)}_of_{min(count, RESULT_CAP)}")
    return first, list(nodes.values())


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
    policy = client.policy

    def note_repage(state: tenacity.RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        reason = str(failure)
        result.repaged[reason.split("_of_")[0] if reason.startswith("captured_") else reason] += 1
        client.stats.retries[f"incomplete_slice:{reason}"] += 1
        wait = state.next_action.sleep if state.next_action else 0.0
        client.stats.waited_seconds += wait
        log.warning(
            "slice %r incomplete (%s): paging it again in %.1fs", state.args[0] if state.args else "", reason, wait
        )

    def leaf(query: str, probe: dict[str, Any]) -> list[dict[str, Any]]:
        """Page one slice; the probe page serves the first attempt, later attempts start afresh."""
        attempts = iter([probe])
        retry = retrying(
            _IncompleteSlice, attempts=policy.slice_attempts, first_wait=policy.slice_backoff_seconds
        ).copy(sleep=client.sleep, before_sleep=note_repage)
        try:
            return retry(lambda q: page_slice(client, q, next(attempts, None))[1], query)
        except _IncompleteSlice as exc:
            raise IncompleteCrawl(
                f"search slice {query!r} stayed incomplete after {policy.slice_attempts} pagings ({exc}); "
                "nothing was written"
            ) from None

    def collect(s: SearchSlice) -> None:
        page = client.search_page(s.query())
        count = page["repositoryCount"]
        if count > RESULT_CAP and s.start.date() < s.end.date():  # halve the days
            days = (s.end.date() - s.start.date()).days
            middle = datetime.combine(s.start.date() + timedelta(days=days // 2), datetime.max.time(), UTC)
            middle = middle.replace(microsecond=0)
            collect(s.with_created(s.start, middle))
            collect(s.with_created(middle + _SECOND, s.end))
            return
        if count > RESULT_CAP:
            top = s.stars_to
            if top is None:  # the most-starred match tells where to cut; the upper half stays open-ended
                best = client.search_page(s.query() + " sort:stars-desc", first=1)["nodes"] or []
                top = int(best[0]["stargazerCount"]) if best and best[0] else s.stars_from
            if top > s.stars_from:
                middle = (s.stars_from + top) // 2
                collect(s.with_stars(s.stars_from, middle))
                collect(s.with_stars(middle + 1, s.stars_to))
                return
            if s.end > s.start:  # one day, one star count: halve the time of day (down to a second)
                middle = s.start + timedelta(seconds=(s.end - s.start).total_seconds() // 2)
                collect(s.with_created(s.start, middle))
                collect(s.with_created(middle + _SECOND, s.end))
                return
            result.unreachable += count - RESULT_CAP
            log.warning("%d matches of %r are beyond GitHub's 1,000-result cap", count - RESULT_CAP, s.query())
        result.slices.append(s.query())
        for node in leaf(s.query(), page):
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


GITHUB_WEB = "https://github.com"
# GitHub's spelling of logins and repository names; anything else in a clone URL path is refused.
_CLONE_PATH = re.compile(
    r"^/(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/(?P<name>[A-Za-z0-9_.-]{1,100}?)(?:\.git)?/?$"
)


def clone_base(endpoint: str) -> str:
    """Where the repositories of a GraphQL endpoint are cloned from: github.com for api.github.com, else the
    endpoint's own scheme and host (GitHub Enterprise, the sandbox)."""
    parts = urlsplit(endpoint)
    if parts.hostname == "api.github.com":
        return GITHUB_WEB
    return f"{parts.scheme}://{parts.netloc}"


def check_clone_url(url: Any, base: str = GITHUB_WEB) -> str:
    """`url` when it is `<base>/<owner>/<name>[.git]` and nothing else; otherwise `RepositoryParseError`
    whose message starts with `unsafe_clone_url:` and says why (local paths, file://, other hosts, credentials,
    queries, `..` are refused, so a search result can never make git read this machine's files)."""
    if not isinstance(url, str) or not url:
        raise RepositoryParseError("unsafe_clone_url: not a string")
    allowed, parts = urlsplit(base), urlsplit(url)
    if not parts.scheme or "://" not in url:
        raise RepositoryParseError(f"unsafe_clone_url: not a URL (a local path?): {url[:200]}")
    if parts.scheme.lower() != allowed.scheme:
        raise RepositoryParseError(f"unsafe_clone_url: scheme {parts.scheme!r} not allowed (only {allowed.scheme})")
    if "@" in parts.netloc:
        raise RepositoryParseError("unsafe_clone_url: credentials in the URL")
    if parts.netloc.lower() != allowed.netloc.lower():
        raise RepositoryParseError(f"unsafe_clone_url: host {parts.netloc!r} is not {allowed.netloc!r}")
    if parts.query or parts.fragment:
        raise RepositoryParseError("unsafe_clone_url: query or fragment in the URL")
    match = _CLONE_PATH.match(parts.path)
    if not match or match["name"] in (".", "..") or match["name"].lower().endswith(".git"):
        raise RepositoryParseError(f"unsafe_clone_url: path {parts.path[:200]!r} is not /<owner>/<name>")
    return url


def parse_repository(node: dict[str, Any], base: str | None = GITHUB_WEB) -> dict[str, Any]:
    """A search node (today's schema, or 2018's `stargazers { totalCount }` shape) as a table row.

    `base`: the only place clone URLs may point to (`clone_base(endpoint)`); None skips the check."""
    for name in ("nameWithOwner", "url"):
        if not node.get(name):
            raise RepositoryParseError(f"missing_field:{name}")
    if base is not None:
        check_clone_url(node["url"], base)
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
