"""End to end: sandbox GitHub (with rate limits and 502s) -> Delta -> filtered files -> TFRecord corpus."""

from __future__ import annotations

import json

import dagster as dg
import numpy as np
import pytest

from assets.code_corpus.definitions import defs
from assets.code_corpus.resources import TOKEN_ENV, CodeCorpusGitHubResource, CodeCorpusSettingsResource
from assets.code_corpus.tables import CHAR_CORPUS, CHAR_RNN_MODEL, REPOSITORIES, SOURCE_FILES
from foundation.storage.delta_tables import Window
from foundation.storage.tfrecord_datasets import dataset_from_manifest
from foundation.storage.tfrecords import read_manifest
from models.code_corpus.vocab import CharVocabulary
from sandbox.code_corpus.github_server import GitHubSandbox
from sandbox.code_corpus.repositories import CONTENT_MONTHS, FILLER_MONTH
from scrapers.code_corpus.git_extraction import git_children

ASSETS = [*defs.assets, *defs.asset_checks]


def _materialize(selection, instance, resources, partition_range=None, run_config=None):
    tags = {}
    if partition_range:
        tags = {
            "dagster/asset_partition_range_start": partition_range[0],
            "dagster/asset_partition_range_end": partition_range[1],
        }
    result = dg.materialize(
        ASSETS, selection=selection, instance=instance, resources=resources, tags=tags, run_config=run_config
    )
    assert result.success
    return result


def _meta(result, key):
    mats = [
        e.event_specific_data.materialization
        for e in result.get_asset_materialization_events()
        if e.event_specific_data.materialization.asset_key.to_user_string() == key
    ]
    return {k: getattr(v, "value", v) for k, v in mats[-1].metadata.items()}


@pytest.mark.slow
def test_crawl_extract_and_cut_corpus(universe, storage, instance, monkeypatch, github_token):
    TOKEN = github_token  # noqa: N806
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    faults = {2: "secondary", 5: "bad_gateway", 6: "bad_gateway", 9: "abuse_429", 14: "secondary"}
    with GitHubSandbox(universe.repos, tokens={TOKEN}, faults=faults, rate_limit=10, reset_seconds=3) as github:
        resources = {
            "storage": storage,
            "code_github": CodeCorpusGitHubResource(
                endpoint=github.endpoint, token=dg.EnvVar(TOKEN_ENV), backoff_seconds=0.05
            ),
            "code_corpus": CodeCorpusSettingsResource(),
        }
        # The crowded month: > 1,000 matches, > 1,000 of them on one day, scripted errors on the way.
        filler = f"{FILLER_MONTH}-01"
        crawl = _materialize(["github_repositories"], instance, resources, (filler, filler))
        stored = REPOSITORIES.store(storage).read(Window.of("created_month", filler))
        expected = {r.node_id for r in universe.by_month(FILLER_MONTH)}
        assert len(expected) > 1_000
        assert stored.num_rows == len(expected) == len(set(stored["repo_id"].to_pylist()))
        assert set(stored["repo_id"].to_pylist()) == expected  # zero lost, zero duplicated
        api = _meta(crawl, "github_repositories")["api"]
        assert api["retries"]["secondary_rate_limit"] >= 3 and api["retries"]["http_502"] == 2
        assert api["retries"].get("primary_rate_limit", 0) >= 1
        assert all(r["authorized"] for r in github.state.requests)
        assert TOKEN not in json.dumps([r["body"] for r in github.state.requests])

        # The content months as one range run, then everything downstream.
        months = (f"{CONTENT_MONTHS[0]}-01", f"{CONTENT_MONTHS[-1]}-01")
        github.state.faults.clear()
        files = _materialize(["github_repositories", "source_files"], instance, resources, months)
        corpus = _materialize(["char_corpus"], instance, resources)
    assert git_children() == []

    meta = _meta(files, "source_files")
    planted = dict(universe.planted) | {"licence_not_allowed": universe.planted_repos["licence"]}
    assert meta["dropped_by_reason"] == planted
    assert meta["files_kept"] == universe.kept_files
    window = Window.range("created_month", *months)
    kept = SOURCE_FILES.store(storage).read(window)
    assert kept.num_rows == universe.kept_files
    assert set(kept["license_spdx"].to_pylist()) <= set(CodeCorpusSettingsResource().allowed_licences)
    quarantine = storage.quarantine(SOURCE_FILES.name).store.read()
    assert quarantine.num_rows == sum(planted.values())

    # Re-running the same months replaces their rows: nothing doubled, nothing lost.
    with GitHubSandbox(universe.repos, tokens={TOKEN}) as github:
        resources["code_github"] = CodeCorpusGitHubResource(endpoint=github.endpoint, token=dg.EnvVar(TOKEN_ENV))
        _materialize(["github_repositories", "source_files"], instance, resources, months)
    assert SOURCE_FILES.store(storage).read(window).num_rows == universe.kept_files
    assert storage.quarantine(SOURCE_FILES.name).store.read().num_rows == sum(planted.values())
    assert REPOSITORIES.store(storage).count() == len(universe.repos)

    # The corpus: repositories held out whole, vocabulary in the manifest, targets = inputs shifted by one.
    checks = {e.asset_check_key.name: e.passed for e in corpus.get_asset_check_evaluations()}
    assert checks == {"char_corpus_held_out_by_repository": True}
    vocab = CharVocabulary()
    repos_by_split = {}
    for split in ("train", "validation", "test"):
        uri = CHAR_CORPUS.uri(storage, split)
        manifest = read_manifest(uri)
        assert manifest.examples > 0 and manifest.metadata["vocabulary"] == vocab.to_json()
        repos_by_split[split] = set(manifest.metadata["repositories"])
        example = next(iter(dataset_from_manifest(uri).take(1)))
        inputs, targets = example["inputs"].numpy(), example["targets"].numpy()
        assert len(inputs) == len(targets) == 100 and np.array_equal(inputs[1:], targets[:-1])
    assert not repos_by_split["train"] & repos_by_split["test"]
    assert not repos_by_split["validation"] & (repos_by_split["train"] | repos_by_split["test"])

    # The model assets on this corpus: a few tiny training steps, evaluation next to baselines, completions.
    run_config = {
        "ops": {
            "char_rnn_model": {
                "config": {"preset": "tiny", "epochs": 1, "steps_per_epoch": 5, "max_validation_examples": 64}
            },
            "char_rnn_evaluation": {"config": {"max_test_examples": 64, "ngram_topk_positions": 500}},
        }
    }
    model = _materialize(
        ["char_rnn_model", "char_rnn_evaluation", "code_completions"], instance, resources, run_config=run_config
    )
    trained = _meta(model, "char_rnn_model")
    assert trained["epochs"] == 1 and "data:image/png;base64" in trained["loss_plot"]
    # Without a GPU the plan's preset is compared with the CPU-sized LSTM; the validation champion is served.
    assert set(trained["validation_bits_per_char"]) == {"tiny", "small"} and "candidates" in trained["preset_choice"]
    bits = trained["validation_bits_per_char"]
    assert trained["champion"] == min(bits, key=bits.__getitem__)
    evaluation = _meta(model, "char_rnn_evaluation")
    assert evaluation["served"] == trained["champion"]
    comparison = evaluation["comparison"]
    assert set(comparison["test"]) == {"tiny", "small", "6-gram (Witten-Bell)"}
    for scores in comparison["test"].values():  # bootstrap intervals over windows around each mean
        interval = scores["neg_bits_per_char"]
        assert interval["low"] <= interval["mean"] <= interval["high"]
    assert "95% CI" in evaluation["candidates"]
    assert evaluation["test_characters"] == 64 * 100
    assert {"unigram", "6-gram (Witten-Bell)", "gzip -9", "bzip2 -9", "xz -9e"} <= set(
        evaluation["baselines_bits_per_char"]
    )
    assert "| char-LSTM |" in evaluation["evaluation"]
    store = storage.model_store(CHAR_RNN_MODEL)
    corpus_version = read_manifest(CHAR_CORPUS.uri(storage, "train")).metadata["source_table_version"]
    assert len(json.loads(store.read_text("completions.json"))) == 5
    manifest = store.manifest()
    assert manifest["params"]["presets"] == ["tiny", "small"] and manifest["data_versions"] == {
        SOURCE_FILES.name: corpus_version
    }
    assert trained["model_version"] == store.latest() == evaluation["model_version"]
