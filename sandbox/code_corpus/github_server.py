"""A local stand-in for GitHub's GraphQL API (`POST /graphql`), for the repositories of `repositories`.

It implements, with graphql-core, the subset of GitHub's schema the crawler uses and answers like
the real API does where it matters to a client:
- `search(type: REPOSITORY, query, first, after)`: `repositoryCount` is the true total, but only the
  first 1,000 results can be paged (`pageInfo.hasNextPage` turns false there); `first`/`last` is
  required and at most 100; cursors are opaque base64 strings;
- search qualifiers `language:`, `stars:`, `created:`, `pushed:` (`>`, `>=`, `<`, `<=`, `a..b`,
  `a..*`), `sort:stars(-asc|-desc)`, `sort:updated`; other words match the name;
- bearer-token auth (401 `Bad credentials`), `x-ratelimit-*` headers and the `rateLimit` object,
  primary limit exhaustion (403 + `RATE_LIMITED`), scripted secondary limits (403 + `Retry-After`),
  scripted 502s, and fields that do not exist answered with GitHub's `undefinedField` error;
- GitHub's other error shapes on demand (`FAULTS`): 200-status "Something went wrong" and `RATE_LIMIT`
  errors, secondary limits without or with an HTTP-date / garbage `Retry-After`, permanent errors, and
  damaged search pages (a short page, a null node, `endCursor: null` with `hasNextPage: true`), scripted
  by request number (`faults`) or by a function of the request (`fault_hook`, which may also change the
  repositories between requests, e.g. a repository gaining a star mid-crawl);
- git's smart HTTP protocol for the repositories (`git http-backend`), so search results carry
  `http://127.0.0.1:<port>/<owner>/<name>` clone URLs on the sandbox's own host, as GitHub's do on github.com.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from graphql import GraphQLError, GraphQLSchema, build_schema, graphql_sync, parse, validate

from sandbox.code_corpus.repositories import SandboxRepo

SCHEMA_SDL = """
scalar DateTime
scalar URI
scalar GitObjectID

enum SearchType { REPOSITORY ISSUE USER DISCUSSION }

type Query {
  search(type: SearchType!, query: String!, first: Int, after: String, last: Int, before: String): SearchResultItemConnection!
  rateLimit(dryRun: Boolean = false): RateLimit
}

type SearchResultItemConnection {
  repositoryCount: Int!
  issueCount: Int!
  userCount: Int!
  pageInfo: PageInfo!
  nodes: [SearchResultItem]
  edges: [SearchResultItemEdge]
}

type SearchResultItemEdge { cursor: String! node: SearchResultItem }
union SearchResultItem = Repository
type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }

interface RepositoryOwner { login: String! }
type User implements RepositoryOwner { login: String! }
type Organization implements RepositoryOwner { login: String! }
type License { spdxId: String key: String! name: String! }
type Language { name: String! }
type Commit { oid: GitObjectID! committedDate: DateTime! }
type Ref { name: String! target: Commit }

type Repository {
  id: ID!
  databaseId: Int
  name: String!
  nameWithOwner: String!
  owner: RepositoryOwner!
  url: URI!
  sshUrl: String!
  stargazerCount: Int!
  forkCount: Int!
  licenseInfo: License
  defaultBranchRef: Ref
  primaryLanguage: Language
  createdAt: DateTime!
  pushedAt: DateTime
  updatedAt: DateTime!
  isFork: Boolean!
  isArchived: Boolean!
  diskUsage: Int
}

type RateLimit { cost: Int! limit: Int! remaining: Int! used: Int! resetAt: DateTime! nodeCount: Int! }
"""

MAX_RESULTS = 1_000
MAX_PAGE = 100
DOCS = "https://docs.github.com/graphql"
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID ABCD:1234."
)


SOMETHING_WENT_WRONG = (
    "Something went wrong while executing your query. This may be the result of a timeout, or it could be a "
    "GitHub bug. Please include `ABCD:1234:5678` when reporting this issue."
)
# Fault name -> what the server answers instead of (or how it damages) the normal response.
FAULTS = {
    "secondary": "403 secondary limit, Retry-After: retry_after_seconds",
    "abuse_429": "429 secondary limit, Retry-After: retry_after_seconds",
    "secondary_no_retry_after": "403 secondary limit without Retry-After",
    "secondary_http_date": "403 secondary limit, Retry-After as an HTTP-date retry_after_seconds ahead",
    "secondary_garbage": "403 secondary limit, Retry-After: soon",
    "bad_gateway": "502 with GitHub's 'Something went wrong' body",
    "something_went_wrong": "200 with data null and the 'Something went wrong ... timeout' error",
    "rate_limit_200": "200 with an error of type RATE_LIMIT",
    "rate_limited_200": "200 with an error of type RATE_LIMITED (primary limit)",
    "forbidden": "200 with a permanent FORBIDDEN error",
    "short_page": "the page's last node left out (hasNextPage and endCursor unchanged)",
    "null_node": "the page's first node replaced by null",
    "null_cursor": "endCursor null while hasNextPage stays true",
}


@dataclass
class GitHubSandboxState:
    """What the server knows and scripts; tests read `requests` to see what the client sent."""

    repos: list[SandboxRepo]
    tokens: set[str]
    rate_limit: int = 5_000
    reset_seconds: float = 3_600.0
    # request number (1-based, counting every POST) -> "secondary" | "bad_gateway" | "abuse_429"
    faults: dict[int, str] = field(default_factory=dict)
    retry_after_seconds: int = 1
    # (request number, GraphQL variables) -> a fault name or None; runs before `faults` is consulted
    fault_hook: Callable[[int, dict[str, Any]], str | None] | None = None
    git_base: str = ""  # set by GitHubSandbox once it listens: clone URLs point here
    requests: list[dict[str, Any]] = field(default_factory=list)
    used: int = 0
    window_started: float = field(default_factory=time.time)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset_at(self) -> float:
        return self.window_started + self.reset_seconds

    def roll_window(self) -> None:
        if time.time() >= self.reset_at():
            self.window_started, self.used = time.time(), 0


# -- search qualifiers -------------------------------------------------------------------------

_RANGE = re.compile(r"^(?P<op>>=|<=|>|<)?(?P<a>[^.]+?)(?:\.\.(?P<b>.+))?$")


def _parse_time(text: str, end: bool) -> datetime:
    if len(text) == 10:  # a date: inclusive of the whole day
        day = datetime.fromisoformat(text).replace(tzinfo=UTC)
        return day + timedelta(days=1) - timedelta(microseconds=1) if end else day
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _predicate(value: str, convert) -> Any:
    """`>5`, `>=5`, `<5`, `5..10`, `5..*`, `*..10`, `5` -> a predicate on converted values."""
    match = _RANGE.match(value)
    if not match:
        raise ValueError(value)
    op, a, b = match["op"], match["a"], match["b"]
    if b is not None:
        lo = None if a == "*" else convert(a, False)
        hi = None if b == "*" else convert(b, True)
        return lambda x: (lo is None or x >= lo) and (hi is None or x <= hi)
    if op == ">":
        v = convert(a, True)
        return lambda x: x > v
    if op == ">=":
        v = convert(a, False)
        return lambda x: x >= v
    if op == "<":
        v = convert(a, False)
        return lambda x: x < v
    if op == "<=":
        v = convert(a, True)
        return lambda x: x <= v
    lo, hi = convert(a, False), convert(a, True)
    return lambda x: lo <= x <= hi


def search_repos(repos: Iterable[SandboxRepo], query: str) -> list[SandboxRepo]:
    """Apply GitHub search qualifiers; default order is stars descending (then id) like best match here."""
    checks: list[Callable[[SandboxRepo], bool]] = []
    order = "stars-desc"
    for term in query.split():
        key, _, value = term.partition(":")
        key, lowered = key.lower(), value.lower()
        if not value:
            checks.append(partial(_name_matches, term.lower()))
        elif key == "language":
            checks.append(partial(_attr_equals, "language", lowered))
        elif key == "stars":
            checks.append(partial(_attr_in, "stargazer_count", _predicate(value, lambda s, _end: int(s))))
        elif key in ("created", "pushed"):
            checks.append(partial(_attr_in, f"{key}_at", _predicate(value, _parse_time)))
        elif key == "sort":
            order = lowered
        elif key == "fork" and lowered != "true":
            checks.append(partial(_attr_equals, "is_fork", lowered == "only"))
        elif key == "archived":
            checks.append(partial(_attr_equals, "is_archived", lowered == "true"))
    found = [r for r in repos if all(c(r) for c in checks)]
    if order in ("stars", "stars-desc"):
        found.sort(key=lambda r: (-r.stargazer_count, r.database_id))
    elif order == "stars-asc":
        found.sort(key=lambda r: (r.stargazer_count, r.database_id))
    elif order in ("updated", "updated-desc"):
        found.sort(key=lambda r: (r.pushed_at, r.database_id), reverse=True)
    return found


def _name_matches(word: str, repo: SandboxRepo) -> bool:
    return word in repo.name_with_owner.lower()


def _attr_equals(attr: str, value: Any, repo: SandboxRepo) -> bool:
    if attr == "language":
        return repo.primary_language.lower() == value
    return getattr(repo, attr) == value


def _attr_in(attr: str, predicate: Callable[[Any], bool], repo: SandboxRepo) -> bool:
    return predicate(getattr(repo, attr))


# -- GraphQL resolution ----------------------------------------------------------------------------


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:{index}".encode()).decode()


def _offset(after: str | None) -> int:
    if not after:
        return 0
    try:
        return int(base64.b64decode(after).decode().split(":", 1)[1])
    except Exception as exc:
        raise GraphQLError(f"`{after}` does not appear to be a valid cursor.") from exc


def _node(repo: SandboxRepo, git_base: str = "") -> dict[str, Any]:
    licence = None
    if repo.license_spdx:
        licence = {"spdxId": repo.license_spdx, "key": repo.license_spdx.lower(), "name": repo.license_spdx}
    owner_type = "Organization" if repo.owner.startswith("org") else "User"
    return {
        "__typename": "Repository",
        "id": repo.node_id,
        "databaseId": repo.database_id,
        "name": repo.name,
        "nameWithOwner": repo.name_with_owner,
        "owner": {"__typename": owner_type, "login": repo.owner},
        "url": f"{git_base}/{repo.name_with_owner}" if git_base and _served(repo) else repo.url,
        "sshUrl": f"git@github.com:{repo.name_with_owner}.git",
        "stargazerCount": repo.stargazer_count,
        "forkCount": 0,
        "licenseInfo": licence,
        "defaultBranchRef": {
            "name": repo.default_branch,
            "target": {"oid": repo.head_oid, "committedDate": _iso(repo.pushed_at)},
        },
        "primaryLanguage": {"name": repo.primary_language},
        "createdAt": _iso(repo.created_at),
        "pushedAt": _iso(repo.pushed_at),
        "updatedAt": _iso(repo.pushed_at),
        "isFork": repo.is_fork,
        "isArchived": repo.is_archived,
        "diskUsage": repo.disk_usage,
    }


def _served(repo: SandboxRepo) -> bool:
    """Local repositories laid out as `file://.../<name>.git` are served over HTTP by the sandbox; any other URL
    is answered verbatim (the hostile cases: `file:///etc`, local paths, other hosts)."""
    return repo.url.startswith("file:") and repo.url.endswith(f"/{repo.name}.git")


class _Resolver:
    def __init__(self, state: GitHubSandboxState) -> None:
        self.state = state
        self.node_count = 0

    def search(
        self,
        info,
        type: str,
        query: str,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> dict[str, Any]:
        if first is None and last is None:
            raise GraphQLError(
                "You must provide a `first` or `last` value to properly paginate the `search` connection."
            )
        size = first if first is not None else last
        if size > MAX_PAGE or size < 0:
            word = "first" if first is not None else "last"
            raise GraphQLError(
                f"Requesting {size} records on the `search` connection exceeds the `{word}` limit of {MAX_PAGE} records."
            )
        found = search_repos(self.state.repos, query) if type == "REPOSITORY" else []
        start = _offset(after)
        reachable = min(len(found), MAX_RESULTS)
        page = found[start : min(start + size, reachable)]
        self.node_count += size
        return {
            "repositoryCount": len(found),
            "issueCount": 0,
            "userCount": 0,
            "pageInfo": {
                "hasNextPage": start + len(page) < reachable,
                "hasPreviousPage": start > 0,
                "startCursor": _cursor(start + 1) if page else None,
                "endCursor": _cursor(start + len(page)) if page else None,
            },
            "nodes": [_node(r, self.state.git_base) for r in page],
            "edges": [
                {"cursor": _cursor(start + i + 1), "node": _node(r, self.state.git_base)} for i, r in enumerate(page)
            ],
        }

    def rateLimit(self, info, dryRun: bool = False) -> dict[str, Any]:  # noqa: N802 (GraphQL field name)
        s = self.state
        return {
            "cost": 1,
            "limit": s.rate_limit,
            "remaining": max(s.rate_limit - s.used, 0),
            "used": s.used,
            "resetAt": _iso(datetime.fromtimestamp(s.reset_at(), UTC)),
            "nodeCount": self.node_count,
        }


_UNDEFINED = re.compile(r"Cannot query field '(?P<field>\w+)' on type '(?P<type>\w+)'\.")


def _github_error(error: GraphQLError) -> dict[str, Any]:
    """graphql-core's validation wording rewritten to GitHub's (`undefinedField` etc.)."""
    out: dict[str, Any] = {"message": error.message}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if match := _UNDEFINED.match(error.message):
        out["message"] = f"Field '{match['field']}' doesn't exist on type '{match['type']}'"
        out["extensions"] = {"code": "undefinedField", "typeName": match["type"], "fieldName": match["field"]}
    elif "exceeds the `" in error.message:
        out["type"] = "EXCESSIVE_PAGINATION"
    elif "must provide a `first`" in error.message:
        out["type"] = "MISSING_PAGINATION_BOUNDARIES"
    if error.path:
        out["path"] = list(error.path)
    return out


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *_: Any) -> None:  # quiet; tests read state.requests instead
        pass

    def _send(self, status: int, body: Any, headers: Mapping[str, str] = {}) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        if self._git():
            return
        self._send(404, {"message": "Not Found", "documentation_url": DOCS})

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":  # git streams large requests
            out = bytearray()
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                out += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return bytes(out)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _git(self, body: bytes = b"") -> bool:
        """Serve git's smart HTTP protocol (clone/fetch only) through `git http-backend`; False: not a git path."""
        url = urlsplit(self.path)
        match = _GIT_PATH.match(unquote(url.path))
        if not match:
            return False
        git_dir = self.server.git_dirs.get(f"{match['owner']}/{match['name']}")
        if git_dir is None or match["service"] == "git-receive-pack" or "receive-pack" in url.query:
            self._send(404, {"message": "Not Found", "documentation_url": DOCS})
            return True
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(git_dir.parent),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": f"/{git_dir.name}/{match['service']}",
            "QUERY_STRING": url.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "REMOTE_ADDR": self.client_address[0],
        }
        done = subprocess.run(["git", "http-backend"], input=body, capture_output=True, env=env, timeout=120)
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers.append((key, value.strip()))
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        return True

    def do_POST(self) -> None:  # noqa: N802
        state = self.server.state
        raw = self._body()
        if self._git(raw):
            return
        if self.path.rstrip("/") != "/graphql":
            return self._send(404, {"message": "Not Found", "documentation_url": DOCS})
        auth = self.headers.get("Authorization", "")
        try:
            variables = json.loads(raw).get("variables") or {}
        except (ValueError, AttributeError):
            variables = {}
        with state.lock:
            number = len(state.requests) + 1
            state.requests.append({"number": number, "authorized": bool(auth), "body": raw.decode("utf-8", "replace")})
            fault = state.fault_hook(number, variables) if state.fault_hook else None
            fault = fault or state.faults.get(number)
            state.roll_window()
        if not auth:
            return self._send(
                401, {"message": "This endpoint requires you to be authenticated.", "documentation_url": DOCS}
            )
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("bearer", "token") or token not in state.tokens:
            return self._send(401, {"message": "Bad credentials", "documentation_url": DOCS})
        if fault == "bad_gateway":
            return self._send(
                502,
                {
                    "data": None,
                    "errors": [
                        {
                            "message": "Something went wrong while executing your "
                            "query. This may be the result of a timeout, "
                            "or it could be a GitHub bug."
                        }
                    ],
                },
            )
        if fault in ("secondary", "abuse_429", "secondary_no_retry_after", "secondary_http_date", "secondary_garbage"):
            retry_after = {
                "secondary_no_retry_after": {},
                "secondary_http_date": {
                    "Retry-After": format_datetime(
                        datetime.now(UTC) + timedelta(seconds=state.retry_after_seconds), usegmt=True
                    )
                },
                "secondary_garbage": {"Retry-After": "soon"},
            }.get(fault, {"Retry-After": str(state.retry_after_seconds)})
            return self._send(
                429 if fault == "abuse_429" else 403,
                {
                    "documentation_url": f"{DOCS}/overview/rate-limits-and-node-limits-for-the-graphql-api"
                    "#secondary-rate-limits",
                    "message": SECONDARY_MESSAGE,
                },
                retry_after,
            )
        if fault in _ERROR_BODIES:
            return self._send(200, _ERROR_BODIES[fault])
        with state.lock:
            exhausted = state.used >= state.rate_limit
            if not exhausted:
                state.used += 1
            headers = {
                "x-ratelimit-limit": str(state.rate_limit),
                "x-ratelimit-remaining": str(max(state.rate_limit - state.used, 0)),
                "x-ratelimit-used": str(state.used),
                "x-ratelimit-reset": str(int(state.reset_at()) + 1),
                "x-ratelimit-resource": "graphql",
            }
        if exhausted:
            return self._send(
                403,
                {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}]},
                headers,
            )
        try:
            payload = json.loads(raw)
            document = parse(payload["query"])
        except GraphQLError as exc:  # a syntax error: GitHub answers 200 with the parse error
            return self._send(200, {"errors": [_github_error(exc)]}, headers)
        except (ValueError, KeyError, TypeError):
            return self._send(400, {"message": "Problems parsing JSON", "documentation_url": DOCS}, headers)
        errors = validate(self.server.schema, document)
        if errors:
            return self._send(200, {"errors": [_github_error(e) for e in errors]}, headers)
        result = graphql_sync(
            self.server.schema,
            payload["query"],
            root_value=_Resolver(state),
            variable_values=payload.get("variables") or {},
        )
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [_github_error(e) for e in result.errors]
        if fault in ("short_page", "null_node", "null_cursor") and result.data and result.data.get("search"):
            _damage(result.data["search"], fault)
        self._send(200, body, headers)


def _damage(search: dict[str, Any], fault: str) -> None:
    """A search page as GitHub sometimes serves it: short, with a null node, or without its cursor."""
    for key in ("nodes", "edges"):
        items = search.get(key)
        if not items:
            continue
        if fault == "short_page":
            items.pop()
        elif fault == "null_node":
            items[0] = None if key == "nodes" else {**items[0], "node": None}
    if fault == "null_cursor":
        search["pageInfo"]["endCursor"] = None


_GIT_PATH = re.compile(
    r"^/(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:\.git)?/"
    r"(?P<service>info/refs|git-upload-pack|git-receive-pack|HEAD|objects/.*)$"
)
_ERROR_BODIES: dict[str, Any] = {
    "something_went_wrong": {"data": None, "errors": [{"message": SOMETHING_WENT_WRONG}]},
    "rate_limit_200": {
        "errors": [{"type": "RATE_LIMIT", "message": "Query timed out; please retry with a smaller page."}]
    },
    "rate_limited_200": {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}]},
    "forbidden": {"errors": [{"type": "FORBIDDEN", "message": "Resource not accessible by integration"}]},
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: GitHubSandboxState
    schema: GraphQLSchema
    git_dirs: dict[str, Path]


class GitHubSandbox:
    """`with GitHubSandbox(repos, tokens={"t"}) as gh: gh.endpoint` -> http://127.0.0.1:<port>/graphql;
    `gh.clone_url(repo)` -> http://127.0.0.1:<port>/<owner>/<name> (what search results say)."""

    def __init__(self, repos: list[SandboxRepo], tokens: Iterable[str] = ("sandbox-token",), **options: Any) -> None:
        self.state = GitHubSandboxState(repos=repos, tokens=set(tokens), **options)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self._server.schema = build_schema(SCHEMA_SDL)
        # Repositories whose git data is local are served over HTTP at <base>/<owner>/<name>.
        self._server.git_dirs = {r.name_with_owner: Path(unquote(urlsplit(r.url).path)) for r in repos if _served(r)}
        host, port = self._server.server_address[:2]
        self.state.git_base = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="github-sandbox", daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/graphql"

    @property
    def base(self) -> str:
        return self.state.git_base

    def clone_url(self, repo: SandboxRepo) -> str:
        return f"{self.state.git_base}/{repo.name_with_owner}"

    def start(self) -> GitHubSandbox:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> GitHubSandbox:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.stop()
