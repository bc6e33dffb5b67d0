"""Ingestion: GitHub search -> `github_repositories`; clones, filters and de-duplication -> `source_files`."""

import tempfile
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa

from assets.code_corpus.partitions import FIRST_MONTH, GROUP, last_day, month_of, month_window, months
from assets.code_corpus.resources import CodeCorpusGitHubResource, CodeCorpusSettingsResource
from assets.code_corpus.tables import REPOSITORIES, SOURCE_FILES
from foundation.charts import bar_chart_png, markdown_image
from foundation.progress import Progress
from foundation.resources import StorageResource
from foundation.run_config import IngestionConfig, shrink_allowed
from foundation.storage.quarantine import TooManyRejects
from scrapers.code_corpus.git_extraction import select_files, snapshot_all
from scrapers.code_corpus.github import GitHubError, RepositoryParseError, crawl, parse_repository


class PushScanConfig(dg.Config):
    """Run configuration of `github_pushed_months` (the pushed-repositories sensor sets it)."""

    since: str = ""  # ISO time of the previous scan; empty: the last 7 days


def _merge_quarantine(total: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    """The metadata of several months' quarantine commits as one: counts and reasons summed."""
    reasons = Counter(total.get("quarantine_reasons", dg.MetadataValue.json({})).value)
    reasons.update(part["quarantine_reasons"].value)
    return {
        **part,
        "quarantined_rows": total.get("quarantined_rows", 0) + part["quarantined_rows"],
        "quarantine_reasons": dg.MetadataValue.json(dict(reasons)),
    }


@dg.asset(
    group_name=GROUP,
    partitions_def=months,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="github",
    kinds={"github", "delta"},
)
def github_repositories(
    context: dg.AssetExecutionContext,
    config: IngestionConfig,
    storage: StorageResource,
    code_github: CodeCorpusGitHubResource,
) -> dg.MaterializeResult:
    """Repositories created in the partition's months, as GitHub search reports them now."""
    keys, window = month_window(context)
    with code_github.client() as client:
        try:
            crawled = crawl(
                client, date.fromisoformat(keys[0]), last_day(keys[-1]), code_github.stars_above, code_github.language
            )
        except GitHubError as exc:  # nothing written: the previous version of every month stays as it was
            raise dg.Failure(
                description=f"GitHub crawl failed, nothing written: {exc}",
                metadata={"api": dg.MetadataValue.json(client.stats.as_dict())},
            ) from exc
        stats = client.stats.as_dict()
    now = datetime.now(UTC)
    base = code_github.clone_base()
    rows, rejects = [], {key: storage.quarantine(REPOSITORIES.name, key) for key in keys}
    for node in crawled.repositories:
        created = str(node.get("createdAt") or "")
        quarantine = rejects.get(created[:7] + "-01", rejects[keys[0]])
        try:
            row = parse_repository(node, base)
        except RepositoryParseError as err:
            quarantine.reject(node, str(err), node.get("nameWithOwner", ""))
            continue
        row |= {"created_month": month_of(row["created_at"]), "crawled_at": now}
        if row["created_month"] not in rejects:
            quarantine.reject(node, f"outside_window: created {created}", row["name_with_owner"])
            continue
        rows.append(row)
    meta: dict[str, Any] = {}
    for q in rejects.values():  # committed before any check fails, so the rejects and their reasons are kept
        meta = _merge_quarantine(meta, q.commit(context.run_id))
    for q in rejects.values():
        q.check_share(len(crawled.repositories), 0.05)
    # Stricter than DeltaStore's generic guard (under half): a crawl that lost pages loses a few repositories,
    # so any month with fewer repositories than stored fails (allow_shrink: config field or run tag).
    store = REPOSITORIES.store(storage)
    previous, new = store.partition_counts(window), Counter(r["created_month"] for r in rows)
    shrunk = {m: {"previous": n, "new": new.get(m, 0)} for m, n in sorted(previous.items()) if new.get(m, 0) < n}
    allowed = shrink_allowed(context, config)
    if shrunk and not allowed:
        raise dg.Failure(
            description=f"the new crawl has fewer repositories than stored for {len(shrunk)} month(s); nothing "
            "written (run with config allow_shrink: true, or the run tag storefront/allow_shrink=true, if the "
            "repositories really went away)",
            metadata={"shrunk_months": dg.MetadataValue.json(shrunk), "api": dg.MetadataValue.json(stats)} | meta,
        )
    table = pa.Table.from_pylist(rows, schema=REPOSITORIES.schema)
    result = store.overwrite(table, window, allow_shrink=allowed)
    return dg.MaterializeResult(
        metadata=result.metadata()
        | meta
        | {
            "repositories": len(rows),
            "search_slices": len(crawled.slices),
            "duplicates_across_slices": crawled.duplicates,
            "unreachable_beyond_cap": crawled.unreachable,
            "slices_paged_again": dg.MetadataValue.json(dict(crawled.repaged)),
            "shrunk_months_allowed": dg.MetadataValue.json(shrunk),
            "api": dg.MetadataValue.json(stats),
            "licences": dg.MetadataValue.json(dict(Counter(r["license_spdx"] or "none" for r in rows).most_common())),
        }
    )


@dg.asset(
    group_name=GROUP,
    partitions_def=months,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[github_repositories],
    kinds={"git", "delta"},
)
def source_files(
    context: dg.AssetExecutionContext,
    config: IngestionConfig,
    storage: StorageResource,
    code_corpus: CodeCorpusSettingsResource,
    code_github: CodeCorpusGitHubResource,
) -> dg.MaterializeResult:
    """Python files of permissively licensed repositories, filtered and de-duplicated, with their content."""
    keys, window = month_window(context)
    repos = REPOSITORIES.store(storage).read(window).to_pylist()
    allowed = set(code_corpus.allowed_licences)
    rejects = {key: storage.quarantine(SOURCE_FILES.name, key) for key in keys}
    reasons: Counter = Counter()
    repo_rejects: Counter = Counter()  # month -> repository-level rejects (never cloned, clone failed)
    cloned = []
    for repo in repos:
        if repo["license_spdx"] in allowed:
            cloned.append(repo)
        else:  # never cloned: nothing of it may enter the corpus
            rejects[repo["created_month"]].reject(
                repo["url"], f"licence_not_allowed: {repo['license_spdx']}", repo["name_with_owner"]
            )
            reasons["licence_not_allowed"] += 1
            repo_rejects[repo["created_month"]] += 1
    store = SOURCE_FILES.store(storage)
    # Exact duplicates of files kept by other months' runs are dropped too, so the table stays unique.
    others = store.dataset().filter(~window.expression()) if store.exists() else None
    known = set(others.to_table(columns=["content_hash"])["content_hash"].to_pylist()) if others else set()
    with (
        tempfile.TemporaryDirectory(prefix="code-clones-") as workdir,
        Progress(context.log, "repositories cloned", total=len(cloned)) as progress,
    ):
        snapshots = snapshot_all(
            cloned,
            Path(workdir),
            code_corpus.max_bytes,
            code_corpus.extraction,
            code_corpus.clone_timeout_seconds,
            code_corpus.clone_workers,
            code_corpus.blob_filter,
            progress=progress,
            base=code_github.clone_base(),
        )
    selection = select_files(snapshots, code_corpus.thresholds(), known, code_corpus.near_duplicate_jaccard)
    month_of_repo = {r["name_with_owner"]: r["created_month"] for r in repos}
    for name, reason in selection.refused_repos:  # a clone URL outside the GitHub base: never cloned
        rejects[month_of_repo[name]].reject(name, reason, name)
        reasons[reason.split(":", 1)[0]] += 1
        repo_rejects[month_of_repo[name]] += 1
    for name, error in selection.failed_repos:
        rejects[month_of_repo[name]].reject(error, "clone_failed", name)
        repo_rejects[month_of_repo[name]] += 1
    file_rejects: Counter = Counter()
    for location, reason, raw in selection.dropped:
        month = month_of_repo[location.split(":", 1)[0]]
        rejects[month].reject(raw[:2_000], reason, location)
        file_rejects[month] += 1
    reasons.update(selection.reasons)
    for row in selection.kept:
        row["created_month"] = month_of_repo[row["name_with_owner"]]
    meta: dict[str, Any] = {}
    for q in rejects.values():  # committed first: a failing run still keeps its rejects and their reasons
        meta = _merge_quarantine(meta, q.commit(context.run_id))
    if cloned and len(selection.failed_repos) / len(cloned) > code_corpus.max_failed_repo_share:
        raise dg.Failure(
            description=f"{len(selection.failed_repos)} of {len(cloned)} clones failed, more than the allowed "
            f"{code_corpus.max_failed_repo_share:.0%}",
            metadata={
                "failed_clones": len(selection.failed_repos),
                "clones": len(cloned),
                "first_failures": dg.MetadataValue.json([list(f) for f in selection.failed_repos[:3]]),
            },
        )
    # Repository-level rejects are a share of repositories, file-level ones a share of files (per month).
    repos_per_month = Counter(r["created_month"] for r in repos)
    files_per_month = Counter(month_of_repo[loc.split(":", 1)[0]] for loc, _, _ in selection.dropped)
    files_per_month.update(r["created_month"] for r in selection.kept)
    for month in keys:
        for kind, rejected, total, limit in (
            ("repositories", repo_rejects[month], repos_per_month[month], code_corpus.max_rejected_repo_share),
            ("files", file_rejects[month], files_per_month[month], code_corpus.max_dropped_file_share),
        ):
            if total and rejected / total > limit:
                raise TooManyRejects(
                    f"{rejected} of {total} {kind} rejected ({rejected / total:.1%} > {limit:.0%}) in month "
                    f"{month}: {dict(reasons.most_common())}"
                )
    kept = pa.Table.from_pylist(selection.kept, schema=SOURCE_FILES.schema)
    result = store.overwrite(kept, window, allow_shrink=shrink_allowed(context, config))
    return dg.MaterializeResult(
        metadata=result.metadata()
        | meta
        | {
            "repositories": len(repos),
            "repositories_cloned": len(cloned) - len(selection.failed_repos) - len(selection.refused_repos),
            "python_files_seen": selection.files_seen,
            "files_kept": len(selection.kept),
            "non_python_files_ignored": selection.other_files,
            "kept_bytes": sum(r["size_bytes"] for r in selection.kept),
            "dropped_by_reason": dg.MetadataValue.json(dict(reasons.most_common())),
            "dropped_plot": dg.MetadataValue.md(
                markdown_image(
                    bar_chart_png(dict(reasons.most_common())), "dropped files by reason", "**dropped files by reason**"
                )
            ),
        }
    )


@dg.asset(group_name=GROUP, pool="github", kinds={"github"})
def github_pushed_months(
    context: dg.AssetExecutionContext, config: PushScanConfig, code_github: CodeCorpusGitHubResource
) -> dg.MaterializeResult:
    """The creation months of repositories pushed since `since`: what `code_pushed_repositories_sensor` re-crawls.

    The search runs here, in a run (where rate-limit waits of minutes are fine), never in a sensor tick."""
    now = datetime.now(UTC).replace(microsecond=0)
    since = datetime.fromisoformat(config.since) if config.since else now - timedelta(days=7)
    with code_github.client() as client:
        found = crawl(
            client,
            date.fromisoformat(FIRST_MONTH),
            now.date(),
            code_github.stars_above,
            code_github.language,
            extra=f"pushed:>{since.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}",
        )
        stats = client.stats.as_dict()
    created, unreadable = set(), 0
    for node in found.repositories:
        try:
            created.add(month_of(parse_repository(node, None)["created_at"]))
        except RepositoryParseError:
            unreadable += 1  # the crawl itself quarantines it when its month is re-crawled
    valid = set(months.get_partition_keys(current_time=now + timedelta(days=31)))
    touched = sorted(created & valid)
    context.log.info(f"{len(found.repositories)} repositories pushed since {since.isoformat()}: months {touched}")
    return dg.MaterializeResult(
        metadata={
            "months": dg.MetadataValue.json(touched),
            "since": since.isoformat(),
            "until": now.isoformat(),
            "repositories_pushed": len(found.repositories),
            "unreadable_nodes": unreadable,
            "api": dg.MetadataValue.json(stats),
        }
    )
