"""The code corpus' resources: GitHub access (key `code_github`) and corpus settings (key `code_corpus`)."""

import dagster as dg

from assets.code_corpus.tables import DEFAULT_SEQ_LEN
from scrapers.code_corpus.filters import FilterThresholds
from scrapers.code_corpus.github import GitHubGraphQL, RetryPolicy, clone_base

TOKEN_ENV = "STOREFRONT_GITHUB_TOKEN"


class CodeCorpusGitHubResource(dg.ConfigurableResource):
    """GitHub's GraphQL endpoint and token (from the environment, e.g. dg.EnvVar, never logged)."""

    endpoint: str = "https://api.github.com/graphql"
    token: str
    language: str = "Python"
    stars_above: int = 1000
    max_attempts: int = 8
    backoff_seconds: float = 1.0
    max_wait_seconds: float = 3_700.0
    secondary_wait_seconds: float = 60.0  # first wait after a secondary limit without Retry-After; doubles
    max_secondary_wait_seconds: float = 600.0
    slice_attempts: int = 3  # pagings of an incomplete search slice before the crawl fails
    slice_backoff_seconds: float = 5.0

    def client(self) -> GitHubGraphQL:
        policy = RetryPolicy(
            self.max_attempts,
            self.backoff_seconds,
            max_wait_seconds=self.max_wait_seconds,
            secondary_wait_seconds=self.secondary_wait_seconds,
            max_secondary_wait_seconds=self.max_secondary_wait_seconds,
            slice_attempts=self.slice_attempts,
            slice_backoff_seconds=self.slice_backoff_seconds,
        )
        return GitHubGraphQL(self.token, self.endpoint, policy)

    def clone_base(self) -> str:
        """The only place clone URLs may point to: github.com, or the endpoint's host (Enterprise, sandbox)."""
        return clone_base(self.endpoint)


class CodeCorpusSettingsResource(dg.ConfigurableResource):
    """Which repositories and files make the corpus, and how the character corpus is cut."""

    allowed_licences: list[str] = [
        "MIT",
        "Apache-2.0",
        "BSD-2-Clause",
        "BSD-3-Clause",
        "ISC",
        "Unlicense",
        "0BSD",
        "Zlib",
        "PSF-2.0",
        "Python-2.0",
    ]
    max_bytes: int = 1_000_000
    max_line_length: int = 1_000
    max_mean_line_length: float = 100.0
    min_alphanum_fraction: float = 0.25
    near_duplicate_jaccard: float = 0.7
    extraction: str = "gitpython"  # or "cli" (git ls-tree + cat-file --batch); see bench_code_corpus_extraction.py
    clone_timeout_seconds: float = 300.0
    clone_workers: int = 4
    blob_filter: str | None = None  # e.g. "blob:limit=1m" for servers that support partial clone
    max_failed_repo_share: float = 0.2
    max_rejected_repo_share: float = 0.9  # repositories rejected (licence, refused URL, clone failed) per month
    max_dropped_file_share: float = 0.9
    seq_len: int = DEFAULT_SEQ_LEN
    validation_fraction: float = 0.1
    test_fraction: float = 0.1

    def thresholds(self) -> FilterThresholds:
        return FilterThresholds(
            self.max_bytes, self.max_line_length, self.max_mean_line_length, self.min_alphanum_fraction
        )
