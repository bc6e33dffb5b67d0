"""Ingestion: GitHub search -> `github_repositories`; clones, filters and de-duplication -> `source_files`."""

import tempfile
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa

from assets.code_corpus.partitions import GROUP, last_day, month_of, month_window, months
from assets.code_corpus.resources import CodeCorpusGitHubResource, CodeCorpusSettingsResource
from assets.code_corpus.tables import REPOSITORIES, SOURCE_FILES
from foundation.charts import bar_chart_png, markdown_image
from foundation.progress import Progress
from foundation.resources import StorageResource
from scrapers.code_corpus.git_extraction import select_files, snapshot_all
from scrapers.code_corpus.github import RepositoryParseError, crawl, parse_repository


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
    context: dg.AssetExecutionContext, storage: StorageResource, code_github: CodeCorpusGitHubResource
) -> dg.MaterializeResult:
    """Repositories created in the partition's months, as GitHub search reports them now."""
    keys, window = month_window(context)
    with code_github.client() as client:
        crawled = crawl(
            client, date.fromisoformat(keys[0]), last_day(keys[-1]), code_github.stars_above, code_github.language
        )
        stats = client.stats.as_dict()
    now = datetime.now(UTC)
    rows, rejects = [], {key: storage.quarantine(REPOSITORIES.name, key) for key in keys}
    for node in crawled.repositories:
        created = node.get("createdAt") or ""
        quarantine = rejects.get(created[:7] + "-01", rejects[keys[0]])
        try:
            row = parse_repository(node)
        except RepositoryParseError as err:
            quarantine.reject(node, str(err), node.get("nameWithOwner", ""))
            continue
        row |= {"created_month": month_of(row["created_at"]), "crawled_at": now}
        if row["created_month"] not in rejects:
            quarantine.reject(node, f"outside_window: created {created}", row["name_with_owner"])
            continue
        rows.append(row)
    meta: dict[str, Any] = {}
    for q in rejects.values():
        q.check_share(len(crawled.repositories), 0.05)
        meta = _merge_quarantine(meta, q.commit(context.run_id))
    table = pa.Table.from_pylist(rows, schema=REPOSITORIES.schema)
    result = REPOSITORIES.store(storage).overwrite(table, window)
    return dg.MaterializeResult(
        metadata=result.metadata()
        | meta
        | {
            "repositories": len(rows),
            "search_slices": len(crawled.slices),
            "duplicates_across_slices": crawled.duplicates,
            "unreachable_beyond_cap": crawled.unreachable,
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
    context: dg.AssetExecutionContext, storage: StorageResource, code_corpus: CodeCorpusSettingsResource
) -> dg.MaterializeResult:
    """Python files of permissively licensed repositories, filtered and de-duplicated, with their content."""
    keys, window = month_window(context)
    repos = REPOSITORIES.store(storage).read(window).to_pylist()
    allowed = set(code_corpus.allowed_licences)
    rejects = {key: storage.quarantine(SOURCE_FILES.name, key) for key in keys}
    reasons: Counter = Counter()
    cloned = []
    for repo in repos:
        if repo["license_spdx"] in allowed:
            cloned.append(repo)
        else:  # never cloned: nothing of it may enter the corpus
            rejects[repo["created_month"]].reject(
                repo["url"], f"licence_not_allowed: {repo['license_spdx']}", repo["name_with_owner"]
            )
            reasons["licence_not_allowed"] += 1
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
        )
    selection = select_files(snapshots, code_corpus.thresholds(), known, code_corpus.near_duplicate_jaccard)
    month_of_repo = {r["name_with_owner"]: r["created_month"] for r in repos}
    for name, error in selection.failed_repos:
        rejects[month_of_repo[name]].reject(error, "clone_failed", name)
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
    for location, reason, raw in selection.dropped:
        rejects[month_of_repo[location.split(":", 1)[0]]].reject(raw[:2_000], reason, location)
    reasons.update(selection.reasons)
    for row in selection.kept:
        row["created_month"] = month_of_repo[row["name_with_owner"]]
    meta: dict[str, Any] = {}
    for q in rejects.values():
        q.check_share(selection.files_seen, code_corpus.max_dropped_file_share)
        meta = _merge_quarantine(meta, q.commit(context.run_id))
    result = store.overwrite(pa.Table.from_pylist(selection.kept, schema=SOURCE_FILES.schema), window)
    return dg.MaterializeResult(
        metadata=result.metadata()
        | meta
        | {
            "repositories": len(repos),
            "repositories_cloned": len(cloned) - len(selection.failed_repos),
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
