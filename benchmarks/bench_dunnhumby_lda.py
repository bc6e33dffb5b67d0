"""Shopping missions: which LDA to use, and what k held-out perplexity picks.

1. scikit-learn LDA, batch vs online variational Bayes at one k: fit seconds (ratio to batch), held-out
   perplexity, NMI of the missions with the dataset's BASKET_DOMINANT_MISSION and BASKET_TYPE, next to a
   random assignment with the same mission sizes and to a rule ("the basket's most bought PROD_CODE_40 division").
   gensim is not a dependency; scikit-learn's two solvers are the candidates.
2. The k grid with the faster/better solver: held-out perplexity per k, the chosen k and its NMI.

Uses the 44 real weeks in ../shared/data/dunnhumby when present, else sandbox weeks (planted missions).
Run: .venv/bin/python benchmarks/bench_dunnhumby_lda.py [--fit-baskets N] [--k-grid 10,15,20,25,30] [--method-k 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from bench_dunnhumby_ingest import land_weeks, load_baskets  # noqa: E402

from models.dunnhumby.missions import agreement, fit_missions  # noqa: E402
from scrapers.dunnhumby.week_files import parse_week_file, week_of  # noqa: E402


def nmi_rows(baskets: pl.DataFrame, missions: np.ndarray) -> dict[str, dict[str, float]]:
    scored = baskets.with_columns(pl.Series("MISSION", missions))
    out = {}
    for label in ("BASKET_DOMINANT_MISSION", "BASKET_TYPE"):
        known = scored.filter(pl.col(label) != "XX")
        out[label] = agreement(known["MISSION"].to_numpy(), known[label].to_list())
    return out


def division_rule(landing: Path, baskets: pl.DataFrame) -> np.ndarray:
    """A no-learning reference: each basket's mission is its most bought PROD_CODE_40 division."""
    lines = pl.concat([pl.from_arrow(parse_week_file(p).table) for p in sorted(landing.iterdir()) if week_of(p)])
    top = (
        lines.group_by("SHOP_WEEK", "BASKET_ID", "PROD_CODE_40")
        .agg(pl.col("QUANTITY").sum())
        .sort("QUANTITY", "PROD_CODE_40", descending=[True, False])
        .group_by("SHOP_WEEK", "BASKET_ID", maintain_order=True)
        .first()
    )
    joined = baskets.join(top, on=["SHOP_WEEK", "BASKET_ID"], how="left")
    return joined["PROD_CODE_40"].fill_null("none").cast(pl.Categorical).to_physical().to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit-baskets", type=int, default=20_000)
    parser.add_argument("--k-grid", default="10,15,20,25,30")
    parser.add_argument("--method-k", type=int, default=20)
    parser.add_argument("--max-iter", type=int, default=20)
    args = parser.parse_args()
    grid = [int(k) for k in args.k_grid.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        weeks, source = land_weeks(Path(tmp))
        baskets = pl.from_arrow(load_baskets(Path(tmp)))
        rule = division_rule(Path(tmp), baskets)
    fit = baskets.sample(min(args.fit_baskets, baskets.height), seed=0)
    products, quantities = baskets["PRODUCTS"].to_list(), baskets["QUANTITIES"].to_list()
    print(f"{len(weeks)} weeks from {source}: {baskets.height:,} baskets, LDA fitted on {fit.height:,}")

    rule_nmi = nmi_rows(baskets, rule)
    print(
        f"reference, division rule: NMI dominant mission {rule_nmi['BASKET_DOMINANT_MISSION']['nmi']:.4f}, "
        f"basket type {rule_nmi['BASKET_TYPE']['nmi']:.4f}"
    )
    print(f"\n1. solvers at k={args.method_k}")
    print(
        f"{'solver':<8}{'fit s':>8}{'x batch':>9}{'perplexity':>12}{'NMI dom':>9}{'random':>8}{'NMI type':>10}{'random':>8}"
    )
    timings: dict[str, float] = {}
    perplexities: dict[str, float] = {}
    for method in ("batch", "online"):
        started = time.perf_counter()
        model = fit_missions(
            fit["PRODUCTS"].to_list(),
            fit["QUANTITIES"].to_list(),
            [args.method_k],
            args.max_iter,
            learning_method=method,
        )
        timings[method] = time.perf_counter() - started
        perplexities[method] = model.perplexity_by_k[args.method_k]
        nmi = nmi_rows(baskets, model.assign(products, quantities)[0])
        dom, typ = nmi["BASKET_DOMINANT_MISSION"], nmi["BASKET_TYPE"]
        print(
            f"{method:<8}{timings[method]:>8.1f}{timings[method] / timings['batch']:>9.2f}{perplexities[method]:>12.1f}"
            f"{dom['nmi']:>9.4f}{dom['random_nmi']:>8.4f}{typ['nmi']:>10.4f}{typ['random_nmi']:>8.4f}"
        )
    chosen = min(perplexities, key=perplexities.__getitem__)
    print(f"chosen solver (lower held-out perplexity): {chosen}")

    print(f"\n2. k grid {grid} with {chosen}")
    started = time.perf_counter()
    model = fit_missions(
        fit["PRODUCTS"].to_list(), fit["QUANTITIES"].to_list(), grid, args.max_iter, learning_method=chosen
    )
    seconds = time.perf_counter() - started
    for k, perplexity in model.perplexity_by_k.items():
        print(f"k={k:<4} held-out perplexity {perplexity:10.1f}")
    nmi = nmi_rows(baskets, model.assign(products, quantities)[0])
    dom, typ = nmi["BASKET_DOMINANT_MISSION"], nmi["BASKET_TYPE"]
    print(
        f"chosen k={model.k} ({seconds:.0f}s for the grid): NMI with BASKET_DOMINANT_MISSION {dom['nmi']:.4f} "
        f"(random {dom['random_nmi']:.4f}), with BASKET_TYPE {typ['nmi']:.4f} (random {typ['random_nmi']:.4f})"
    )


if __name__ == "__main__":
    main()
