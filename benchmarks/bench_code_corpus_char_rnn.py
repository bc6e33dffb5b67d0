"""Char-RNN on the sandbox corpus (built from this machine's standard library), on this machine's CPU.

1. Training throughput (characters/s) of the full configuration (4 x LSTM(512), dropout 0.2,
   sequences of 100, batch 64) next to the tiny configuration, measured in the same process.
2. A model trained within a stated wall-clock budget, evaluated on the repository-held-out test split
   next to unigram, 6-gram and gzip/bzip2/xz baselines (and the published anchors).

    .venv/bin/python benchmarks/bench_code_corpus_char_rnn.py [--preset full] [--budget-minutes 30] [--throughput-steps 8]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyarrow as pa  # noqa: E402

from models.code_corpus.corpus import write_splits  # noqa: E402
from sandbox.code_corpus.github_server import GitHubSandbox  # noqa: E402
from sandbox.code_corpus.repositories import ALLOWED_SPDX, build_universe  # noqa: E402
from scrapers.code_corpus.git_extraction import select_files, snapshot_all  # noqa: E402


def build_corpus(root: Path, seq_len: int = 100) -> dict[str, str]:
    """The same steps as the pipeline (clone, filter, dedup, split by repository), without Dagster."""
    universe = build_universe(root / "repos")
    with GitHubSandbox(universe.repos) as github:  # cloned over HTTP, as the pipeline does
        repos = [
            r.crawled_row() | {"url": github.clone_url(r)} for r in universe.repos if r.license_spdx in ALLOWED_SPDX
        ]
        kept = pa.Table.from_pylist(select_files(snapshot_all(repos, root, 1_000_000, base=github.base)).kept)
    uris = {}
    for split in write_splits(
        kept, lambda s: str(root / "char_corpus" / s), seq_len, metadata={"source_table_version": 0}
    ):
        uris[split.split] = split.uri
        print(f"{split.split:10s} {split.characters:>9,d} characters")
    return uris


def throughput(preset: str, uris: dict[str, str], root: Path, steps: int) -> float:
    from models.code_corpus.config import CharRNNConfig
    from models.code_corpus.model import train

    # Two one-step epochs warm up graph tracing; the measured epoch follows.
    config = CharRNNConfig.preset(preset, epochs=1, steps_per_epoch=2)
    train(config, uris["train"], uris["validation"], root / f"warm-{preset}", max_validation_examples=64)
    config = CharRNNConfig.preset(preset, epochs=1, steps_per_epoch=steps)
    run = train(config, uris["train"], uris["validation"], root / f"speed-{preset}", max_validation_examples=64)
    return run.characters_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="full")
    parser.add_argument("--budget-minutes", type=float, default=30.0, help="0: throughput only")
    parser.add_argument("--throughput-steps", type=int, default=8)
    parser.add_argument("--max-test-examples", type=int, default=None)
    args = parser.parse_args()

    import tensorflow as tf

    from models.code_corpus.config import CharRNNConfig, EvaluationSettings
    from models.code_corpus.evaluation import compare
    from models.code_corpus.model import train
    from models.code_corpus.vocab import CharVocabulary

    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        uris = build_corpus(root)
        tiny = throughput("tiny", uris, root, args.throughput_steps)
        full = throughput(args.preset, uris, root, args.throughput_steps)
        print(f"\ntraining throughput on {device}:")
        print(f"  tiny (1 x LSTM(32))          {tiny:>10,.0f} chars/s")
        print(f"  {args.preset:28s} {full:>10,.0f} chars/s   ratio to tiny x{full / tiny:.3f}")

        budget = 60 * args.budget_minutes
        if budget <= 0:
            return
        config = CharRNNConfig.preset(args.preset, epochs=1_000)
        started = time.perf_counter()
        run = train(
            config,
            uris["train"],
            uris["validation"],
            root / "budget",
            max_validation_examples=500,
            time_budget_seconds=budget,
        )
        print(
            f"\n{args.preset} trained {time.perf_counter() - started:.0f}s (budget {budget:.0f}s), "
            f"{len(run.history)} epochs, last val loss {run.history[-1]['val_loss']:.3f} nats/char"
        )
        settings = EvaluationSettings(max_test_examples=args.max_test_examples)
        comparison = compare(
            run.model, CharVocabulary(), uris["train"], uris["test"], settings, label=f"char-LSTM {args.preset}"
        )
        print(f"\nrepository-held-out test split: {comparison.scores.characters:,d} characters")
        print(f"{'predictor':44s} {'bits/char':>9s} {'top-1':>6s} {'top-5':>6s}")
        for row in comparison.rows:
            f = lambda v: "" if v is None else f"{v:.3f}"  # noqa: E731
            print(f"{row.predictor:44s} {row.bits_per_char:9.3f} {f(row.top1):>6s} {f(row.top5):>6s}")


if __name__ == "__main__":
    main()
