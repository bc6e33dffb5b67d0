"""The code corpus' Dagster definitions: assets, checks, jobs, schedule, sensor and its own resources."""

import dagster as dg

from assets.code_corpus.automation import (
    code_crawl_job,
    code_model_job,
    code_push_scan_job,
    code_pushed_repositories_sensor,
    code_weekly_recrawl,
)
from assets.code_corpus.checks import (
    char_corpus_held_out_by_repository,
    char_rnn_beats_unigram,
    github_repositories_unique,
    source_files_unique_and_licensed,
)
from assets.code_corpus.corpus import char_corpus
from assets.code_corpus.ingestion import github_pushed_months, github_repositories, source_files
from assets.code_corpus.resources import TOKEN_ENV, CodeCorpusGitHubResource, CodeCorpusSettingsResource
from assets.code_corpus.training import char_rnn_evaluation, char_rnn_model, code_completions

defs = dg.Definitions(
    assets=[
        github_repositories,
        github_pushed_months,
        source_files,
        char_corpus,
        char_rnn_model,
        char_rnn_evaluation,
        code_completions,
    ],
    asset_checks=[
        github_repositories_unique,
        source_files_unique_and_licensed,
        char_corpus_held_out_by_repository,
        char_rnn_beats_unigram,
    ],
    jobs=[code_crawl_job, code_push_scan_job, code_model_job],
    schedules=[code_weekly_recrawl],
    sensors=[code_pushed_repositories_sensor],
    resources={
        "code_github": CodeCorpusGitHubResource(token=dg.EnvVar(TOKEN_ENV)),
        "code_corpus": CodeCorpusSettingsResource(),
    },
)
