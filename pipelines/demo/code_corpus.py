"""Demo of the code corpus: sandbox repositories and a sandbox GitHub, three months crawled and extracted as one
range run, the corpus cut, a small Transformer and the tiny LSTM trained for minutes, the validation champion evaluated
and sampled."""

import os

import dagster as dg

from assets.code_corpus.automation import CRAWL_ASSETS
from assets.code_corpus.resources import TOKEN_ENV, CodeCorpusGitHubResource
from pipelines.demo import DemoContext
from sandbox.code_corpus.github_server import GitHubSandbox
from sandbox.code_corpus.repositories import build_universe

DEMO_MONTHS = ("2019-01-01", "2019-03-01")


def run(ctx: DemoContext) -> None:
    """Build the sandbox repositories, serve the sandbox GitHub, crawl and extract three months, cut the corpus."""
    universe = build_universe(ctx.scratch("sandbox", "github_repos"))
    token = os.environ.setdefault(TOKEN_ENV, "sandbox-token")
    with GitHubSandbox(universe.repos, tokens={token}, faults={2: "secondary", 4: "bad_gateway"}) as github:
        resources = {
            "code_github": CodeCorpusGitHubResource(
                endpoint=github.endpoint, token=dg.EnvVar(TOKEN_ENV), backoff_seconds=0.2
            )
        }
        ctx.materialize(list(CRAWL_ASSETS), partition_range=DEMO_MONTHS, resources=resources)
    ctx.materialize(["char_corpus"], resources=resources)
    # The demo trains the CPU default (a small Transformer) for a few minutes next to the tiny LSTM and serves the
    # validation champion: its completions are visible words and brackets, not the empty answers of the tiny LSTM
    # alone. benchmarks/bench_code_corpus_char_rnn.py measures the curves of the full LSTM and the Transformer.
    ctx.materialize(
        ["char_rnn_model", "char_rnn_evaluation", "code_completions"],
        resources=resources,
        run_config={
            "ops": {
                "char_rnn_model": {
                    "config": {
                        "preset": "transformer",
                        "compare_with": ["tiny"],
                        "epochs": 3,
                        "steps_per_epoch": 60,
                        "budget_minutes": 6,
                    }
                },
                "char_rnn_evaluation": {"config": {"max_test_examples": 1_000, "ngram_topk_positions": 5_000}},
            }
        },
    )
