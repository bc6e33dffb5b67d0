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


# -- bits/char against CPU-minutes (issue 19): one process per candidate, then one report ---------------------


def train_curve(
    preset: str, uris: dict[str, str], out: Path, cpu_minutes: float, wall_minutes: float, val_windows: int
) -> dict:
    """Train `preset` until `cpu_minutes` of this process' CPU time (`time.process_time`, all threads) or
    `wall_minutes`, scoring the first `val_windows` validation windows at doubling CPU times on the way; the
    evaluations' own CPU time is not counted. Saves the model and the curve under `out/preset`."""
    import json

    import keras

    from models.code_corpus.config import CharRNNConfig
    from models.code_corpus.model import build_model, char_dataset, corpus_vocabulary, window_bits

    vocab, meta = corpus_vocabulary(uris["train"])
    config = CharRNNConfig.preset(preset, vocab_size=vocab.size, seq_len=meta["seq_len"])
    model = build_model(config)
    budget, wall_budget = 60 * cpu_minutes, 60 * wall_minutes
    curve, trained_cpu, next_point = [], 0.0, 0.0
    wall_started = time.perf_counter()
    batches = char_dataset(uris["train"], config.batch_size, shuffle=True, seed=config.seed).repeat()
    for steps, (inputs, targets) in enumerate(batches, start=1):
        started = time.process_time()
        model.train_on_batch(inputs, targets)
        trained_cpu += time.process_time() - started
        stop = trained_cpu >= budget or time.perf_counter() - wall_started >= wall_budget
        if trained_cpu >= next_point or stop:
            bpc = float(window_bits(model, uris["validation"], max_examples=val_windows).mean())
            point = {
                "step": steps,
                "cpu_minutes": round(trained_cpu / 60, 3),
                "chars": steps * config.batch_size * config.seq_len,
                "validation_bpc": round(bpc, 4),
                "wall_minutes": round((time.perf_counter() - wall_started) / 60, 2),
            }
            curve.append(point)
            print(f"{preset}: {point}", flush=True)
            next_point = max(2 * trained_cpu, 10.0)  # doubling: even points on a log(CPU) axis
        if stop:
            break
    folder = out / preset
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.keras")
    result = {
        "preset": preset,
        "parameters": int(model.count_params()),
        "chars_per_cpu_second": round(curve[-1]["chars"] / max(trained_cpu, 1e-9)),
        "stopped_by": "cpu budget" if trained_cpu >= budget else "wall-clock limit",
        "cpu_budget_minutes": cpu_minutes,
        "curve": curve,
    }
    (folder / "curve.json").write_text(json.dumps(result, indent=1))
    keras.backend.clear_session()
    return result


def extrapolate(curve: list[dict], cpu_minutes: float) -> float | None:
    """bits/char at `cpu_minutes` from a straight line in log(CPU-minutes) through the second half of the curve
    (learning curves flatten at least that fast, so this is optimistic rather than pessimistic)."""
    import numpy as np

    tail = [p for p in curve if p["cpu_minutes"] > 0][len(curve) // 2 :]
    if len(tail) < 2:
        return None
    slope, intercept = np.polyfit(np.log([p["cpu_minutes"] for p in tail]), [p["validation_bpc"] for p in tail], 1)
    return float(intercept + slope * np.log(cpu_minutes))


def report_curves(uris: dict[str, str], out: Path, presets: list[str], val_windows: int, test_windows: int) -> None:
    """Every trained candidate and the 6-gram scored per window on validation (champion) and test (bootstrap
    95% intervals over windows), xz on the same test text; the curves with an extrapolation to 60 CPU-minutes."""
    import json
    import lzma

    import keras

    from foundation.markdown import markdown_table
    from foundation.model_selection import compare_candidates
    from models.code_corpus.baselines import CharNGram
    from models.code_corpus.model import corpus_vocabulary, split_ids, window_bits

    vocab, meta = corpus_vocabulary(uris["train"])
    seq_len = meta["seq_len"]
    per_query: dict = {}
    windows = {"validation": val_windows, "test": test_windows}
    train_ids, _ = split_ids(uris["train"])
    ngram = CharNGram(6, vocab.size).fit(train_ids)
    texts = {}
    per_query["6-gram"] = {}
    for split, n in windows.items():
        ids, texts[split] = split_ids(uris[split], vocab, n)
        bits = ngram.position_bits(ids)[1:]  # the targets of the windows (the first id is context only)
        per_query["6-gram"][split] = {"bits/char": -bits.reshape(-1, seq_len).mean(axis=1)}
    curves = {}
    for preset in presets:
        folder = out / preset
        curves[preset] = json.loads((folder / "curve.json").read_text())
        model = keras.models.load_model(folder / "model.keras")
        per_query[preset] = {s: {"bits/char": -window_bits(model, uris[s], max_examples=n)} for s, n in windows.items()}
    # compare_candidates maximises: scores are negated bits/char, shown negated back below.
    comparison = compare_candidates(per_query, "bits/char", baselines={"6-gram"})
    xz = {s: 8 * len(lzma.compress(t.encode(), preset=9 | lzma.PRESET_EXTREME)) / len(t) for s, t in texts.items()}
    print(f"\nbits/char against CPU-minutes (validation, first {val_windows} windows):")
    for preset, result in curves.items():
        at60 = extrapolate(result["curve"], 60.0)
        print(
            f"  {preset}: {result['parameters']:,d} parameters, {result['chars_per_cpu_second']:,d} chars/CPU-s, "
            f"stopped by {result['stopped_by']}; extrapolated to 60 CPU-min: "
            + (f"{at60:.3f}" if at60 is not None else "n/a")
        )
        print(
            markdown_table(
                ("CPU-min", "chars", "validation bits/char"),
                [(p["cpu_minutes"], f"{p['chars']:,d}", p["validation_bpc"]) for p in result["curve"]],
            )
        )
    rows = []
    for candidate in comparison.ranking:
        v, t = comparison.validation[candidate]["bits/char"], comparison.test[candidate]["bits/char"]
        role = (
            "champion"
            if candidate == comparison.champion
            else ("baseline" if candidate in comparison.baselines else "")
        )
        rows.append((candidate, role, f"{-v.mean:.3f}", f"{-t.mean:.3f} [{-t.high:.3f}, {-t.low:.3f}]"))
    rows.append(
        (
            "xz -9e (same test text)",
            "baseline",
            f"{xz['validation']:.3f}",
            f"{xz['test']:.3f} (no interval: one stream)",
        )
    )
    print(f"\nrepository-held-out splits: {val_windows} validation / {test_windows} test windows of {seq_len}")
    print(markdown_table(("candidate", "role", "validation bits/char", "test bits/char (95% CI over windows)"), rows))
    if comparison.champion_vs_best_baseline:
        d = comparison.champion_vs_best_baseline
        print(f"champion minus 6-gram on test (bits/char, paired): {-d.mean:.3f} [{-d.high:.3f}, {-d.low:.3f}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="full")
    parser.add_argument("--budget-minutes", type=float, default=30.0, help="0: throughput only")
    parser.add_argument("--throughput-steps", type=int, default=8)
    parser.add_argument("--max-test-examples", type=int, default=None)
    parser.add_argument("--curve", default="", help="comma-separated presets: bits/char vs CPU-minutes instead")
    parser.add_argument("--cpu-minutes", type=float, default=60.0, help="CPU budget per curve")
    parser.add_argument("--wall-minutes", type=float, default=60.0, help="stop a curve early (shared machines)")
    parser.add_argument("--curve-dir", default="", help="keep the corpus and curves here (and reuse them)")
    parser.add_argument("--report-only", action="store_true", help="report the curves already in --curve-dir")
    parser.add_argument("--train-only", action="store_true", help="train the curves, report later (parallel runs)")
    parser.add_argument("--val-windows", type=int, default=300)
    parser.add_argument("--test-windows", type=int, default=600)
    args = parser.parse_args()
    if args.curve:
        curve_main(args)
        return

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


def curve_main(args: argparse.Namespace) -> None:
    import json

    root = Path(args.curve_dir or tempfile.mkdtemp(prefix="char-curve-"))
    corpus = root / "corpus.json"
    if corpus.exists():
        uris = json.loads(corpus.read_text())
    else:
        uris = build_corpus(root)
        corpus.write_text(json.dumps(uris))
    presets = [p for p in args.curve.split(",") if p]
    if not args.report_only:
        for preset in presets:
            train_curve(preset, uris, root, args.cpu_minutes, args.wall_minutes, args.val_windows)
    if args.train_only:
        return
    report_curves(uris, root, presets, args.val_windows, args.test_windows)


if __name__ == "__main__":
    main()
