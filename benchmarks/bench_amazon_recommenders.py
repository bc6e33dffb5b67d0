"""Amazon model comparison from scratch: every recommender on validation and test, the champion, bootstrap intervals.

Run: .venv/bin/python benchmarks/bench_amazon_recommenders.py [--protocol temporal_leave_last_out global_time]
     [--users 5000 --items 600] [--autoencoder-epochs 0]

The demo's sandbox category (`AmazonSandboxSpec()`: 5,000 users, 600 items) is generated, ingested by the
production parser into Delta and built into the demo's tag (`min_interactions=3, min_ratings=5, k_core=True`).
Each protocol's split has a validation split inside its training ratings: every model (random and most-popular
included) is fitted there and scored on validation users, then fitted on the training split and scored on test
users. The champion is the best by validation NDCG@10 (`foundation.model_selection`), as the pipeline picks the
one the recommendations page serves; test metrics carry percentile-bootstrap 95% intervals over test users, and
the champion's margin over the strongest baseline is a paired interval. Ratios are to most-popular, run in the
same process. The peer a user would pick, `implicit`'s ALS, is fitted and ranked on the same split through the
same interface and printed beside the comparison (a reference, not a candidate).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from assets.amazon.tables import ITEMS, REVIEWS  # noqa: E402
from foundation.markdown import markdown_table  # noqa: E402
from foundation.model_selection import bootstrap_interval  # noqa: E402
from foundation.resources import StorageResource  # noqa: E402
from models.amazon.comparison import INTERVAL_METRICS, compare  # noqa: E402
from models.amazon.dataset_builder import BuildSpec, build_dataset  # noqa: E402
from models.amazon.recommenders import PROTOCOLS, Recommender, make_split  # noqa: E402
from models.amazon.training import MODEL_NAMES, PER_USER_FILE, make_recommender, train_and_evaluate  # noqa: E402
from sandbox.amazon import AmazonSandboxSpec, generate  # noqa: E402
from scrapers.amazon.ingest import ingest_file  # noqa: E402


def sandbox_ratings(root: Path, users: int, items: int) -> pl.DataFrame:
    """The demo tag's ratings: generated files, the production parser, the production dataset build."""
    storage = StorageResource(root_uri=str(root / "root"))
    spec = AmazonSandboxSpec(n_users=users, n_items=items)
    files = generate(root / "landing", spec)
    for kind, table, path in (("reviews", REVIEWS, files.reviews_path), ("items", ITEMS, files.meta_path)):
        ingest_file(
            table.store(storage), storage.quarantine(f"amazon_{kind}", spec.category), path, kind, spec.category
        )
    build = BuildSpec(category=spec.category, min_interactions=3, min_ratings=5, k_core=True)
    reviews = pl.from_arrow(REVIEWS.store(storage).read())
    meta = pl.from_arrow(ITEMS.store(storage).read())
    return build_dataset(reviews, meta, build).ratings


class ImplicitALS(Recommender):
    """The peer a user would pick: `implicit`'s alternating least squares, through the same `Recommender`
    interface, so it is fitted, ranked over the full catalogue and scored exactly like the candidates."""

    name = "implicit_als"

    def __init__(self, factors: int = 64, regularization: float = 0.05, iterations: int = 15) -> None:
        self.factors, self.regularization, self.iterations = factors, regularization, iterations

    def settings(self) -> dict[str, Any]:
        return {"factors": self.factors, "regularization": self.regularization, "iterations": self.iterations}

    def _fit(self, x: sp.csr_matrix) -> None:
        from implicit.cpu.als import AlternatingLeastSquares  # the CPU model: NumPy factors, on every machine

        self.model = AlternatingLeastSquares(
            factors=self.factors, regularization=self.regularization, iterations=self.iterations, random_state=0
        )
        self.model.fit(x, show_progress=False)

    def scores(self, users: np.ndarray) -> np.ndarray:
        return self.model.user_factors[users] @ self.model.item_factors.T


# A small grid, chosen on validation like every candidate: ALS at its defaults overfits a few-hundred-item catalogue.
ALS_GRID = [{"factors": f, "regularization": r} for f in (16, 64) for r in (0.05, 1.0, 10.0)]


def peer_line(ratings: pl.DataFrame, protocol: str, folder: Path, champion: str, champion_ndcg: float) -> str:
    """implicit ALS on the same split, its settings chosen on validation, as a reference beside the comparison
    (not a candidate the pipeline serves)."""
    split = make_split(ratings, protocol)
    started = time.perf_counter()
    best: tuple[float, dict, Path] | None = None
    for n, settings in enumerate(ALS_GRID):
        out = folder / protocol / f"{ImplicitALS.name}_{n}"
        out.mkdir(parents=True)
        report = train_and_evaluate(
            ImplicitALS(**settings), split, ImplicitALS.name, "bench", out, validation_model=ImplicitALS(**settings)
        )
        score = report["validation_metrics"]["ndcg@10"]
        if best is None or score > best[0]:
            best = (score, report["settings"], out)
    _, settings, out = best  # type: ignore[misc]
    with np.load(out / PER_USER_FILE) as saved:
        ndcg = bootstrap_interval(saved["test/ndcg@10"])
    return (
        f"peer implicit ALS {settings} (chosen on validation from {len(ALS_GRID)} settings; a reference, not a "
        f"candidate): test NDCG@10 {ndcg}, {time.perf_counter() - started:.1f} s for the grid; champion {champion} "
        f"x{champion_ndcg / ndcg.mean:.2f} of it"
    )


def run_protocol(ratings: pl.DataFrame, protocol: str, folder: Path, autoencoder_epochs: int) -> None:
    split = make_split(ratings, protocol)
    reports, per_user, seconds = [], {}, {}
    for name in MODEL_NAMES:
        out = folder / protocol / name
        out.mkdir(parents=True)
        started = time.perf_counter()
        model = make_recommender(name, autoencoder_epochs=autoencoder_epochs)
        validation_model = make_recommender(name, autoencoder_epochs=autoencoder_epochs)  # a fresh copy
        reports.append(train_and_evaluate(model, split, name, "bench", out, validation_model=validation_model))
        seconds[name] = time.perf_counter() - started
        with np.load(out / PER_USER_FILE) as saved:
            per_user[name] = dict(saved)
    comparison = compare("bench", reports, per_user=per_user)
    c = comparison.selection
    inner = split.validation
    print(
        f"\n## {protocol}: {len(inner.test):,} validation users, {len(split.test):,} test users, "
        f"{split.train.n_items:,} items{f', cut {split.cut}' if split.cut else ''}\n"
    )
    print(comparison.champion_markdown())
    popular = c.test["popular"]["ndcg@10"].mean
    rows = [
        (
            name,
            f"{c.test[name]['ndcg@10'].mean / popular:.2f}",
            f"{seconds[name]:.1f}",
            ", ".join(f"{k}={v}" for k, v in reports[MODEL_NAMES.index(name)]["settings"].items()),
        )
        for name in c.ranking
    ]
    print("\n" + markdown_table(("model", "test NDCG@10 / most-popular", "fit+eval s (both splits)", "settings"), rows))
    print(peer_line(ratings, protocol, folder, c.champion, c.test[c.champion]["ndcg@10"].mean))
    print(
        f"\nREADME row: champion {c.champion} {c.test[c.champion]['ndcg@10']}; runner-up {c.runner_up} "
        f"{c.test[c.runner_up]['ndcg@10']}; strongest baseline {c.best_baseline} {c.test[c.best_baseline]['ndcg@10']}"
        f"; champion - baseline {c.champion_vs_best_baseline} (test NDCG@10, 95% CI; metrics {INTERVAL_METRICS})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--protocol", nargs="+", default=list(PROTOCOLS), choices=PROTOCOLS)
    parser.add_argument("--users", type=int, default=AmazonSandboxSpec.n_users)
    parser.add_argument("--items", type=int, default=AmazonSandboxSpec.n_items)
    parser.add_argument("--autoencoder-epochs", type=int, default=0, help="0: scaled with the data")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        ratings = sandbox_ratings(Path(tmp), args.users, args.items)
        print(
            f"sandbox tag: {ratings['user_id'].n_unique():,} users, {ratings.height:,} ratings, "
            f"{ratings['parent_asin'].n_unique():,} items ({time.perf_counter() - started:.1f} s to build)"
        )
        for protocol in args.protocol:
            run_protocol(ratings, protocol, Path(tmp) / "models", args.autoencoder_epochs)


if __name__ == "__main__":
    main()
