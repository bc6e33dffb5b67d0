"""Code corpus: GitHub repository search -> shallow clones -> filtered Python files -> character corpus.

    GitHub GraphQL search (sliced by creation date and stars)  -->  github_repositories[creation month]  (Delta)
    clone + extract + licence/quality filters + exact/near dedup  -->  source_files[creation month]     (Delta)
    split by repository, encode, fixed-length windows  -->  char_corpus  (TFRecords train/validation/test)

A month partition owns the repositories created in that month, so a range backfill crawls history
and a re-crawl replaces exactly its months. Every dropped repository or file goes to the quarantine
with its reason. A weekly schedule re-crawls; a sensor asks GitHub for repositories pushed since its
cursor and re-runs their months. See docs/code_corpus.md.
"""


import calendar
import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from models.char_rnn_corpus import SPLITS, assign_splits, encode_files, windows
from models.char_rnn_vocab import CharVocabulary
from foundation.charts import bar_chart_png, line_chart_png, markdown_image
from foundation.automation import derived_table, follow_updates, retrain
from foundation.progress import Progress, keras_progress
from foundation.resources import StorageResource
from foundation.storage.delta_tables import DeltaStore, Window
from foundation.storage.tfrecords import FeatureSpec, ShardWriter, read_manifest
from scrapers.code_filters import FilterThresholds
from scrapers.git_corpus import select_files, snapshot_all
from scrapers.github import GitHubGraphQL, RepositoryParseError, RetryPolicy, crawl, parse_repository

GROUP = "code"
TOKEN_ENV = "STOREFRONT_GITHUB_TOKEN"
FIRST_MONTH = "2008-01-01"  # GitHub opened in 2008
months = dg.MonthlyPartitionsDefinition(start_date=FIRST_MONTH)

REPOSITORY_SCHEMA = pa.schema([
    ("created_month", pa.string()),
    ("repo_id", pa.string()),
    ("database_id", pa.int64()),
    ("name_with_owner", pa.string()),
    ("url", pa.string()),
    ("stars", pa.int64()),
    ("license_spdx", pa.string()),
    ("default_branch", pa.string()),
    ("head_oid", pa.string()),
    ("created_at", pa.timestamp("us", tz="UTC")),
    ("pushed_at", pa.timestamp("us", tz="UTC")),
    ("is_fork", pa.bool_()),
    ("is_archived", pa.bool_()),
    ("disk_usage_kb", pa.int64()),
    ("crawled_at", pa.timestamp("us", tz="UTC")),
])

SOURCE_FILE_SCHEMA = pa.schema([
    ("created_month", pa.string()),
    ("repo_id", pa.string()),
    ("name_with_owner", pa.string()),
    ("license_spdx", pa.string()),
    ("commit", pa.string()),
    ("path", pa.string()),
    ("blob_sha", pa.string()),
    ("size_bytes", pa.int64()),
    ("content_hash", pa.string()),
    ("content", pa.large_string()),
    ("lines", pa.int64()),
    ("max_line_length", pa.int64()),
    ("mean_line_length", pa.float64()),
    ("alphanum_fraction", pa.float64()),
])



def char_features(seq_len: int) -> dict[str, FeatureSpec]:
    return {"inputs": FeatureSpec("int64", seq_len), "targets": FeatureSpec("int64", seq_len)}


# -- resources ----------------------------------------------------------------------------------


class GitHubResource(dg.ConfigurableResource):
    """GitHub's GraphQL endpoint and token (from the environment, e.g. dg.EnvVar, never logged)."""

    endpoint: str = "https://api.github.com/graphql"
    token: str
    language: str = "Python"
    stars_above: int = 1000
    max_attempts: int = 8
    backoff_seconds: float = 1.0
    max_wait_seconds: float = 3_700.0

    def client(self) -> GitHubGraphQL:
        policy = RetryPolicy(self.max_attempts, self.backoff_seconds, max_wait_seconds=self.max_wait_seconds)
        return GitHubGraphQL(self.token, self.endpoint, policy)


class CodeCorpusSettings(dg.ConfigurableResource):
    """Which repositories and files make the corpus, and how the character corpus is cut."""

    allowed_licences: list[str] = ["MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "Unlicense",
                                   "0BSD", "Zlib", "PSF-2.0", "Python-2.0"]
    max_bytes: int = 1_000_000
    max_line_length: int = 1_000
    max_mean_line_length: float = 100.0
    min_alphanum_fraction: float = 0.25
    near_duplicate_jaccard: float = 0.7
    extraction: str = "gitpython"  # or "cli" (git ls-tree + cat-file --batch); see bench_code_extraction.py
    clone_timeout_seconds: float = 300.0
    clone_workers: int = 4
    blob_filter: str | None = None  # e.g. "blob:limit=1m" for servers that support partial clone
    max_failed_repo_share: float = 0.2
    max_dropped_file_share: float = 0.9
    seq_len: int = 100
    validation_fraction: float = 0.1
    test_fraction: float = 0.1

    def thresholds(self) -> FilterThresholds:
        return FilterThresholds(self.max_bytes, self.max_line_length, self.max_mean_line_length,
                                self.min_alphanum_fraction)


def repositories_store(storage: StorageResource) -> DeltaStore:
    return storage.delta("code_github_repositories", REPOSITORY_SCHEMA, ["created_month"])


def source_files_store(storage: StorageResource) -> DeltaStore:
    return storage.delta("code_source_files", SOURCE_FILE_SCHEMA, ["created_month"])


def month_window(context: dg.AssetExecutionContext) -> tuple[list[str], Window]:
    keys = list(context.partition_keys)
    return keys, Window.range("created_month", keys[0], keys[-1])


def _last_day(month_key: str) -> date:
    first = date.fromisoformat(month_key)
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def month_of(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-01")


# -- assets -------------------------------------------------------------------------------------


@dg.asset(
    group_name=GROUP,
    partitions_def=months,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="github",
    kinds={"github", "delta"},
)
def github_repositories(
    context: dg.AssetExecutionContext, storage: StorageResource, code_github: GitHubResource
) -> dg.MaterializeResult:
    """Repositories created in the partition's months, as GitHub search reports them now."""
    keys, window = month_window(context)
    with code_github.client() as client:
        crawled = crawl(client, date.fromisoformat(keys[0]), _last_day(keys[-1]), code_github.stars_above,
                        code_github.language)
        stats = client.stats.as_dict()
    now = datetime.now(UTC)
    rows, rejects = [], {key: storage.quarantine("code_github_repositories", key) for key in keys}
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
    result = repositories_store(storage).overwrite(pa.Table.from_pylist(rows, schema=REPOSITORY_SCHEMA), window)
    return dg.MaterializeResult(metadata=result.metadata() | meta | {
        "repositories": len(rows),
        "search_slices": len(crawled.slices),
        "duplicates_across_slices": crawled.duplicates,
        "unreachable_beyond_cap": crawled.unreachable,
        "api": dg.MetadataValue.json(stats),
        "licences": dg.MetadataValue.json(dict(Counter(r["license_spdx"] or "none" for r in rows).most_common())),
    })


def _merge_quarantine(total: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    reasons = Counter(total.get("quarantine_reasons", dg.MetadataValue.json({})).value)
    reasons.update(part["quarantine_reasons"].value)
    return {**part, "quarantined_rows": total.get("quarantined_rows", 0) + part["quarantined_rows"],
            "quarantine_reasons": dg.MetadataValue.json(dict(reasons))}


@dg.asset(
    group_name=GROUP,
    partitions_def=months,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[github_repositories],
    kinds={"git", "delta"},
)
def source_files(
    context: dg.AssetExecutionContext, storage: StorageResource, code_corpus: CodeCorpusSettings
) -> dg.MaterializeResult:
    """Python files of permissively licensed repositories, filtered and de-duplicated, with their content."""
    keys, window = month_window(context)
    repos = repositories_store(storage).read(window).to_pylist()
    allowed = set(code_corpus.allowed_licences)
    rejects = {key: storage.quarantine("code_source_files", key) for key in keys}
    reasons: Counter = Counter()
    cloned = []
    for repo in repos:
        if repo["license_spdx"] in allowed:
            cloned.append(repo)
        else:  # never cloned: nothing of it may enter the corpus
            rejects[repo["created_month"]].reject(repo["url"], f"licence_not_allowed: {repo['license_spdx']}",
                                                  repo["name_with_owner"])
            reasons["licence_not_allowed"] += 1
    store = source_files_store(storage)
    # Exact duplicates of files kept by other months' runs are dropped too, so the table stays unique.
    others = store.dataset().filter(~window.expression()) if store.exists() else None
    known = set(others.to_table(columns=["content_hash"])["content_hash"].to_pylist()) if others else set()
    with (
        tempfile.TemporaryDirectory(prefix="code-clones-") as workdir,
        Progress(context.log, "repositories cloned", total=len(cloned)) as progress,
    ):
        snapshots = snapshot_all(cloned, Path(workdir), code_corpus.max_bytes, code_corpus.extraction,
                                 code_corpus.clone_timeout_seconds, code_corpus.clone_workers,
                                 code_corpus.blob_filter, progress=progress)
    selection = select_files(snapshots, code_corpus.thresholds(), known, code_corpus.near_duplicate_jaccard)
    month_of_repo = {r["name_with_owner"]: r["created_month"] for r in repos}
    for name, error in selection.failed_repos:
        rejects[month_of_repo[name]].reject(error, "clone_failed", name)
    if cloned and len(selection.failed_repos) / len(cloned) > code_corpus.max_failed_repo_share:
        raise RuntimeError(f"{len(selection.failed_repos)} of {len(cloned)} clones failed: {selection.failed_repos[:3]}")
    for location, reason, raw in selection.dropped:
        rejects[month_of_repo[location.split(":", 1)[0]]].reject(raw[:2_000], reason, location)
    reasons.update(selection.reasons)
    for row in selection.kept:
        row["created_month"] = month_of_repo[row["name_with_owner"]]
    meta: dict[str, Any] = {}
    for q in rejects.values():
        q.check_share(selection.files_seen, code_corpus.max_dropped_file_share)
        meta = _merge_quarantine(meta, q.commit(context.run_id))
    result = store.overwrite(pa.Table.from_pylist(selection.kept, schema=SOURCE_FILE_SCHEMA), window)
    return dg.MaterializeResult(metadata=result.metadata() | meta | {
        "repositories": len(repos),
        "repositories_cloned": len(cloned) - len(selection.failed_repos),
        "python_files_seen": selection.files_seen,
        "files_kept": len(selection.kept),
        "non_python_files_ignored": selection.other_files,
        "kept_bytes": sum(r["size_bytes"] for r in selection.kept),
        "dropped_by_reason": dg.MetadataValue.json(dict(reasons.most_common())),
        "dropped_plot": dg.MetadataValue.md(markdown_image(
            bar_chart_png(dict(reasons.most_common())), "dropped files by reason", "**dropped files by reason**")),
    })


# Rebuilt whenever a crawled month updates (encoding is cheap next to training); months never crawled do not block it.
@dg.asset(group_name=GROUP, deps=[source_files], kinds={"tensorflow"}, automation_condition=follow_updates())
def char_corpus(
    context: dg.AssetExecutionContext, storage: StorageResource, code_corpus: CodeCorpusSettings
) -> dg.MaterializeResult:
    """Next-character examples in TFRecords, one folder per split, repositories held out whole."""
    store = source_files_store(storage)
    table = store.read(columns=["created_month", "repo_id", "name_with_owner", "path", "content_hash", "content"])
    table = table.sort_by([("created_month", "ascending"), ("name_with_owner", "ascending"), ("path", "ascending")])
    # The table is unique when months ran in order; this keeps the corpus unique whatever the order was.
    first = pc.equal(pa.array(range(table.num_rows)), _first_index(table["content_hash"]))
    duplicates = table.num_rows - pc.sum(first).as_py() if table.num_rows else 0
    table = table.filter(first) if table.num_rows else table
    split_of = assign_splits(table["repo_id"].to_pylist(), code_corpus.validation_fraction, code_corpus.test_fraction)
    vocab = CharVocabulary()
    version = store.version() if store.exists() else -1
    meta: dict[str, Any] = {"source_table_version": version, "duplicates_dropped": duplicates,
                            "vocabulary_size": vocab.size}
    splits = np.array([split_of[r] for r in table["repo_id"].to_pylist()])
    contents = table["content"].to_pylist()
    names = table["name_with_owner"].to_pylist()
    for split in SPLITS:
        idx = np.flatnonzero(splits == split)
        ids = encode_files((contents[i] for i in idx), vocab)
        repos = sorted({names[i] for i in idx})
        uri = storage.tfrecords_uri("char_corpus", split)
        manifest_meta = {"split": split, "seq_len": code_corpus.seq_len, "vocabulary": vocab.to_json(),
                         "repositories": repos, "files": len(idx), "characters": int(len(ids)),
                         "unknown_characters": int((ids == vocab.unk_id).sum()), "source_table": store.uri,
                         "source_table_version": version}
        with ShardWriter(uri, char_features(code_corpus.seq_len), metadata=manifest_meta) as writer:
            for inputs, targets in windows(ids, code_corpus.seq_len):
                writer.write({"inputs": inputs, "targets": targets})
        manifest = writer.manifest
        meta |= {f"{split}_examples": manifest.examples, f"{split}_repositories": len(repos),
                 f"{split}_characters": int(len(ids)), f"{split}_manifest": dg.MetadataValue.path(f"{uri}/manifest.json")}
        context.log.info(f"{split}: {len(repos)} repositories, {len(idx)} files, {len(ids)} characters")
    unknown = sum(read_manifest(storage.tfrecords_uri("char_corpus", s)).metadata["unknown_characters"] for s in SPLITS)
    total = sum(meta[f"{s}_characters"] for s in SPLITS)
    meta["unknown_character_share"] = round(unknown / max(total, 1), 5)
    meta["dagster/row_count"] = sum(meta[f"{s}_examples"] for s in SPLITS)
    return dg.MaterializeResult(metadata=meta)


def _first_index(column: pa.ChunkedArray) -> pa.Array:
    """For each row, the index of the first row with the same value."""
    first: dict[str, int] = {}
    return pa.array([first.setdefault(v, i) for i, v in enumerate(column.to_pylist())])


# -- model: char-level LSTM, evaluation next to baselines, completions ------------------------------


class CharRNNTraining(dg.Config):
    """Which configuration to train and for how long (`full` is the original 4 x LSTM(512))."""

    preset: str = "full"
    epochs: int | None = None
    steps_per_epoch: int | None = None
    max_validation_examples: int | None = 2_000


class CharRNNEvaluation(dg.Config):
    max_test_examples: int | None = None  # None: the whole held-out test split
    ngram_order: int = 6
    ngram_topk_positions: int = 20_000


COMPLETION_PROMPTS = ("import os\n\ndef ", "class Config:\n    def __init__(self", "    for i in range(",
                      "if __name__ == ", "    return ")


def current_model_dir(storage: StorageResource) -> Path:
    """The folder of the most recently trained model (a pointer file, so serving needs no Dagster)."""
    pointer = storage.local_path("models", "char_rnn") / "current.txt"
    if not pointer.exists():
        raise FileNotFoundError(f"no char_rnn model trained yet under {pointer.parent}")
    return Path(pointer.read_text().strip())


MODEL_CRON = "0 0 * * 1"  # Monday 00:00 UTC, before the weekly re-crawl: retrains once that crawl's corpus is built


# Hours of LSTM training: at most once a week, and only after a new corpus.
@dg.asset(group_name=GROUP, deps=[char_corpus], kinds={"keras"}, automation_condition=retrain(MODEL_CRON))
def char_rnn_model(
    context: dg.AssetExecutionContext, storage: StorageResource, config: CharRNNTraining
) -> dg.MaterializeResult:
    """The LSTM trained on the train split, validated on the validation split, checkpointed per epoch."""
    from models.char_rnn_model import CharRNNConfig, train

    overrides = {k: v for k, v in {"epochs": config.epochs, "steps_per_epoch": config.steps_per_epoch}.items() if v}
    settings = CharRNNConfig.preset(config.preset, **overrides)
    train_uri = storage.tfrecords_uri("char_corpus", "train")
    corpus_version = read_manifest(train_uri).metadata["source_table_version"]
    # One folder per (configuration, corpus version): a re-run resumes from its last checkpoint.
    out_dir = storage.model_path("char_rnn", f"{config.preset}-corpus-v{corpus_version}")
    progress = keras_progress(context.log, "char LSTM", batch_size=settings.batch_size)
    run = train(settings, train_uri, storage.tfrecords_uri("char_corpus", "validation"), out_dir,
                max_validation_examples=config.max_validation_examples, callbacks=[progress])
    (storage.local_path("models", "char_rnn") / "current.txt").write_text(str(out_dir))
    losses = {"train loss": [h["loss"] for h in run.history], "validation loss": [h["val_loss"] for h in run.history]}
    return dg.MaterializeResult(metadata={
        "model_path": dg.MetadataValue.path(str(out_dir / "model.keras")),
        "preset": config.preset,
        "parameters": int(run.model.count_params()),
        "epochs": len(run.history),
        "resumed_from_epoch": run.resumed_from_epoch,
        "train_seconds": round(run.seconds, 1),
        "characters_per_second": round(run.characters_per_second),
        "loss_per_epoch": dg.MetadataValue.json(run.history),
        "loss_plot": dg.MetadataValue.md(
            markdown_image(line_chart_png(losses), "loss per epoch (nats/char)", "**loss per epoch (nats/char)**")),
        "corpus_table_version": corpus_version,
    })


@dg.asset(group_name=GROUP, deps=[char_rnn_model], kinds={"keras"}, automation_condition=derived_table())
def char_rnn_evaluation(
    context: dg.AssetExecutionContext, storage: StorageResource, config: CharRNNEvaluation
) -> dg.MaterializeResult:
    """The model on the repository-held-out test split, next to unigram, n-gram and compressor baselines."""
    from models.char_rnn_baselines import PUBLISHED_ANCHORS, compressors, ngram, unigram
    from models.char_rnn_model import evaluate, load, split_ids

    model, vocab, _ = load(current_model_dir(storage))
    test_uri = storage.tfrecords_uri("char_corpus", "test")
    scores = evaluate(model, test_uri, max_examples=config.max_test_examples)
    train_ids, _ = split_ids(storage.tfrecords_uri("char_corpus", "train"))
    test_ids, test_text = split_ids(test_uri, vocab, config.max_test_examples)
    rows = [("char-LSTM", scores.bits_per_char, scores.top1, scores.top5)]
    for baseline in [unigram(train_ids, test_ids, vocab.size),
                     ngram(train_ids, test_ids, vocab.size, config.ngram_order, config.ngram_topk_positions),
                     *compressors(test_text)]:
        rows.append((baseline.name, baseline.bits_per_char, baseline.top1, baseline.top5))
    rows += [(name, bpc, None, None) for name, bpc in PUBLISHED_ANCHORS.items()]
    fmt = lambda v: "" if v is None else f"{v:.3f}"  # noqa: E731
    table = "| predictor | bits/char | top-1 | top-5 |\n|---|---:|---:|---:|\n" + "\n".join(
        f"| {name} | {bpc:.3f} | {fmt(t1)} | {fmt(t5)} |" for name, bpc, t1, t5 in rows)
    context.log.info("\n" + table)
    return dg.MaterializeResult(metadata={
        "evaluation": dg.MetadataValue.md(table),
        "test_characters": scores.characters,
        "nats_per_char": round(scores.nats_per_char, 4),
        "bits_per_char": round(scores.bits_per_char, 4),
        "top1": round(scores.top1, 4),
        "top5": round(scores.top5, 4),
        "baselines_bits_per_char": dg.MetadataValue.json({n: round(b, 4) for n, b, _, _ in rows[1:]}),
        "bpc_plot": dg.MetadataValue.md(markdown_image(
            bar_chart_png({n[:24]: round(b, 3) for n, b, _, _ in rows}),
            "bits per character (lower is better)", "**bits per character (lower is better)**")),
    })


@dg.asset(group_name=GROUP, deps=[char_rnn_model], kinds={"keras"}, automation_condition=derived_table())
def code_completions(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    """Greedy completions of fixed prompts (what the completion page would show), kept for comparison."""
    from models.char_rnn_completion import CompletionRequest, complete
    from models.char_rnn_model import load

    model_dir = current_model_dir(storage)
    model, vocab, _ = load(model_dir)
    samples = [{"prompt": p, "completion": complete(model, vocab, CompletionRequest(p, stop="line"))}
               for p in COMPLETION_PROMPTS]
    (model_dir / "completions.json").write_text(json.dumps(samples, indent=1))
    text = "\n\n".join(f"```python\n{s['prompt']}⟨{s['completion']}⟩\n```" for s in samples)
    return dg.MaterializeResult(metadata={"completions": dg.MetadataValue.md(text), "prompts": len(samples),
                                          "model_path": dg.MetadataValue.path(str(model_dir))})


# -- checks ---------------------------------------------------------------------------------------


@dg.asset_check(asset=github_repositories, blocking=True)
def github_repositories_unique(storage: StorageResource) -> dg.AssetCheckResult:
    """Every repository appears once, in the month it was created."""
    table = repositories_store(storage).read(columns=["repo_id", "created_month", "created_at"])
    duplicates = table.num_rows - len(set(table["repo_id"].to_pylist()))
    misplaced = sum(month_of(c) != m for c, m in zip(table["created_at"].to_pylist(),
                                                   table["created_month"].to_pylist(), strict=True))
    return dg.AssetCheckResult(passed=duplicates == 0 and misplaced == 0,
                               metadata={"rows": table.num_rows, "duplicate_ids": duplicates, "misplaced": misplaced})


@dg.asset_check(asset=source_files, blocking=True)
def source_files_unique_and_licensed(storage: StorageResource, code_corpus: CodeCorpusSettings) -> dg.AssetCheckResult:
    """No content twice, no file from a repository outside the licence allow-list, nothing over the size limit."""
    table = source_files_store(storage).read(columns=["content_hash", "license_spdx", "size_bytes"])
    duplicates = table.num_rows - len(set(table["content_hash"].to_pylist()))
    unlicensed = sum(lic not in code_corpus.allowed_licences for lic in table["license_spdx"].to_pylist())
    too_large = sum(s > code_corpus.max_bytes for s in table["size_bytes"].to_pylist())
    return dg.AssetCheckResult(
        passed=duplicates == 0 and unlicensed == 0 and too_large == 0,
        metadata={"files": table.num_rows, "duplicate_contents": duplicates, "not_allowed_licence": unlicensed,
                  "too_large": too_large},
    )


@dg.asset_check(asset=char_corpus, blocking=True)
def char_corpus_held_out_by_repository(storage: StorageResource) -> dg.AssetCheckResult:
    """No repository in two splits; every split has examples; one vocabulary throughout."""
    manifests = {s: read_manifest(storage.tfrecords_uri("char_corpus", s)) for s in SPLITS}
    owners: dict[str, set[str]] = {}
    for split, manifest in manifests.items():
        for repo in manifest.metadata["repositories"]:
            owners.setdefault(repo, set()).add(split)
    leaked = sorted(r for r, s in owners.items() if len(s) > 1)
    empty = [s for s, m in manifests.items() if m.examples == 0]
    vocabularies = {tuple(m.metadata["vocabulary"]["symbols"]) for m in manifests.values()}
    return dg.AssetCheckResult(
        passed=not leaked and not empty and len(vocabularies) == 1,
        metadata={"leaked_repositories": dg.MetadataValue.json(leaked), "empty_splits": dg.MetadataValue.json(empty),
                  **{f"{s}_examples": m.examples for s, m in manifests.items()}},
    )


@dg.asset_check(asset=char_rnn_evaluation)
def char_rnn_beats_unigram(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    """A model worse than character frequencies has learnt nothing: warn."""
    event = context.instance.get_latest_materialization_event(char_rnn_evaluation.key)
    meta = event.asset_materialization.metadata if event and event.asset_materialization else {}
    model = meta["bits_per_char"].value if "bits_per_char" in meta else float("inf")
    baseline = meta["baselines_bits_per_char"].value.get("unigram", 0.0) if meta else 0.0
    return dg.AssetCheckResult(passed=model < baseline, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"model_bpc": model, "unigram_bpc": baseline})


# -- automation ----------------------------------------------------------------------------------

code_crawl_job = dg.define_asset_job(
    "code_crawl_job", selection=dg.AssetSelection.assets(github_repositories, source_files), partitions_def=months
)
code_model_job = dg.define_asset_job(
    "code_model_job",
    selection=dg.AssetSelection.assets(char_corpus, char_rnn_model, char_rnn_evaluation, code_completions),
)


@dg.schedule(job=code_crawl_job, cron_schedule="0 3 * * 1", default_status=dg.DefaultScheduleStatus.STOPPED)
def code_weekly_recrawl(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Every Monday: one run re-crawling every complete month since GitHub opened (sliced, so it scales)."""
    keys = months.get_partition_keys(current_time=context.scheduled_execution_time)
    return dg.RunRequest(
        run_key=f"recrawl-{context.scheduled_execution_time:%Y-%m-%d}",
        tags={"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]},
    )


@dg.sensor(job=code_crawl_job, minimum_interval_seconds=6 * 3600, default_status=dg.DefaultSensorStatus.STOPPED)
def code_pushed_repositories_sensor(
    context: dg.SensorEvaluationContext, code_github: GitHubResource
) -> Iterator[dg.RunRequest | dg.SkipReason]:
    """Re-runs the creation months of repositories pushed since the cursor (an ISO timestamp)."""
    now = datetime.now(UTC).replace(microsecond=0)
    if not context.cursor:  # first tick: the backfill or weekly schedule does the initial crawl
        context.update_cursor(now.isoformat())
        yield dg.SkipReason("cursor initialised; watching pushes from now on")
        return
    since = datetime.fromisoformat(context.cursor)
    with code_github.client() as client:
        found = crawl(client, date.fromisoformat(FIRST_MONTH), now.date(), code_github.stars_above,
                      code_github.language, extra=f"pushed:>{since.strftime('%Y-%m-%dT%H:%M:%SZ')}")
    valid = set(months.get_partition_keys(current_time=now + timedelta(days=31)))
    touched = sorted({month_of(parse_repository(n)["created_at"]) for n in found.repositories} & valid)
    for key in touched:
        yield dg.RunRequest(run_key=f"pushed-{key}-{context.cursor}", partition_key=key)
    if not touched:
        yield dg.SkipReason(f"no repositories pushed since {context.cursor}")
    context.update_cursor(now.isoformat())


defs = dg.Definitions(
    assets=[github_repositories, source_files, char_corpus, char_rnn_model, char_rnn_evaluation, code_completions],
    asset_checks=[github_repositories_unique, source_files_unique_and_licensed, char_corpus_held_out_by_repository,
                  char_rnn_beats_unigram],
    jobs=[code_crawl_job, code_model_job],
    schedules=[code_weekly_recrawl],
    sensors=[code_pushed_repositories_sensor],
    resources={
        "code_github": GitHubResource(token=dg.EnvVar(TOKEN_ENV)),
        "code_corpus": CodeCorpusSettings(),
    },
)


# -- demo ----------------------------------------------------------------------------------------

DEMO_MONTHS = ("2019-01-01", "2019-03-01")


def demo(ctx: Any) -> None:
    """Build the sandbox repositories, serve the sandbox GitHub, crawl and extract three months, cut the corpus."""
    import os

    from pipelines.definitions import defs as location
    from sandbox.github_repos import build_universe
    from sandbox.github_server import GitHubSandbox

    universe = build_universe(ctx.storage.local_path("sandbox", "github_repos"))
    token = os.environ.setdefault(TOKEN_ENV, "sandbox-token")
    with GitHubSandbox(universe.repos, tokens={token}, faults={2: "secondary", 4: "bad_gateway"}) as github:
        resources = {**location.resources,
                     "code_github": GitHubResource(endpoint=github.endpoint, token=dg.EnvVar(TOKEN_ENV),
                                                   backoff_seconds=0.2)}
        ctx.materialize(["github_repositories", "source_files"], partition_range=DEMO_MONTHS, resources=resources)
    ctx.materialize(["char_corpus"], resources=resources)
    # The demo trains the tiny configuration briefly; benchmarks/bench_code_char_rnn.py trains the full one.
    ctx.materialize(
        ["char_rnn_model", "char_rnn_evaluation", "code_completions"],
        resources=resources,
        run_config={"ops": {"char_rnn_model": {"config": {"preset": "tiny", "epochs": 2, "steps_per_epoch": 60}},
                            "char_rnn_evaluation": {"config": {"max_test_examples": 1_000,
                                                               "ngram_topk_positions": 5_000}}}},
    )
