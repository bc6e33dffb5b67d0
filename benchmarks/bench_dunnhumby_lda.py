"""Shopping missions: which LDA to use, and what k held-out perplexity picks.

1. scikit-learn LDA, batch vs online variational Bayes at one k: fit seconds (ratio to batch), held-out
   perplexity, NMI of the missions with the dataset's BASKET_DOMINANT_MISSION and BASKET_TYPE, next to a
   random assignment with the same mission sizes and to a rule ("the basket's most bought PROD_CODE_40 division"),
   and the peer a user would pick, gensim's online LDA (`LdaModel`, same training/held-out baskets, same k, as many
   passes as scikit-learn's iterations, chunks of 512; perplexity exp(-per-word bound), as scikit-learn's).
2. The k grid with the faster/better solver: held-out perplexity per k, the chosen k and its NMI.
3. Word granularity (product, class = PROD_CODE_10, department = _20, division = _40): LDA at one k fitted on
   a sample of the training weeks' baskets (all weeks but the last `--heldout-weeks`), measured on a sample of
   the later weeks' baskets: held-out perplexity (scikit-learn's bound, and by document completion next to a
   unigram model's on the same items: raw perplexities of different vocabularies do not compare, the ratio does), NPMI coherence of each topic's top 10 words (baskets
   as the window), NMI with BASKET_DOMINANT_MISSION beside the division rule's on the same baskets.
   `--only-granularity` runs this section alone (5 CPU-minutes on the real weeks).

Uses the 44 real weeks in ../shared/data/dunnhumby when present, else sandbox weeks (planted missions).
Run: .venv/bin/python benchmarks/bench_dunnhumby_lda.py [--fit-baskets N] [--k-grid 10,15,20,25,30] [--method-k 20]
     [--only-granularity] [--granularity-k 10] [--heldout-weeks 8] [--heldout-baskets 10000]
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
import scipy.sparse as sp  # noqa: E402
from bench_dunnhumby_ingest import land_weeks, load_baskets  # noqa: E402

from models.dunnhumby.mission_training import hierarchy_levels  # noqa: E402
from models.dunnhumby.missions import (  # noqa: E402
    GRANULARITIES,
    BasketVectorizer,
    agreement,
    fit_missions,
    npmi_coherence,
)
from scrapers.dunnhumby.week_files import parse_week_file, week_of  # noqa: E402


def nmi_rows(baskets: pl.DataFrame, missions: np.ndarray) -> dict[str, dict[str, float]]:
    scored = baskets.with_columns(pl.Series("MISSION", missions))
    out = {}
    for label in ("BASKET_DOMINANT_MISSION", "BASKET_TYPE"):
        known = scored.filter(pl.col(label) != "XX")
        out[label] = agreement(known["MISSION"].to_numpy(), known[label].to_list())
    return out


def landed_lines(landing: Path) -> pl.DataFrame:
    return pl.concat([pl.from_arrow(parse_week_file(p).table) for p in sorted(landing.iterdir()) if week_of(p)])


def division_rule(lines: pl.DataFrame, baskets: pl.DataFrame) -> np.ndarray:
    """A no-learning reference: each basket's mission is its most bought PROD_CODE_40 division."""
    top = (
        lines.group_by("SHOP_WEEK", "BASKET_ID", "PROD_CODE_40")
        .agg(pl.col("QUANTITY").sum())
        .sort("QUANTITY", "PROD_CODE_40", descending=[True, False])
        .group_by("SHOP_WEEK", "BASKET_ID", maintain_order=True)
        .first()
    )
    joined = baskets.join(top, on=["SHOP_WEEK", "BASKET_ID"], how="left")
    return joined["PROD_CODE_40"].fill_null("none").cast(pl.Categorical).to_physical().to_numpy()


def show(name: str, timings: dict, perplexities: dict, nmi: dict) -> None:
    dom, typ = nmi["BASKET_DOMINANT_MISSION"], nmi["BASKET_TYPE"]
    print(
        f"{name:<8}{timings[name]:>8.1f}{timings[name] / timings['batch']:>9.2f}{perplexities[name]:>12.1f}"
        f"{dom['nmi']:>9.4f}{dom['random_nmi']:>8.4f}{typ['nmi']:>10.4f}{typ['random_nmi']:>8.4f}"
    )


def gensim_lda(
    vectorizer: BasketVectorizer, fit: pl.DataFrame, k: int, passes: int, seed: int = 0
) -> tuple[float, float, object]:
    """gensim's LdaModel on the split fit_missions uses; (fit seconds, held-out perplexity, model)."""
    from gensim.matutils import Sparse2Corpus
    from gensim.models import LdaModel

    counts = vectorizer.transform(fit["PRODUCTS"].to_list(), fit["QUANTITIES"].to_list())
    counts = counts[np.asarray(counts.sum(axis=1)).ravel() > 0]
    order = np.random.default_rng(seed).permutation(counts.shape[0])
    n_holdout = max(1, int(len(order) * 0.2))  # fit_missions' default holdout_share
    held_out, train = counts[order[:n_holdout]], counts[order[n_holdout:]]
    started = time.perf_counter()
    model = LdaModel(
        Sparse2Corpus(train, documents_columns=False),
        num_topics=k,
        id2word={i: str(i) for i in range(counts.shape[1])},
        passes=passes,
        chunksize=512,
        random_state=seed,
    )
    seconds = time.perf_counter() - started
    # gensim's own log line reports 2**-bound; exp(-bound) is the definition scikit-learn uses.
    perplexity = float(np.exp(-model.log_perplexity(list(Sparse2Corpus(held_out, documents_columns=False)))))
    return seconds, perplexity, model


def gensim_assign(model: object, counts: sp.csr_matrix) -> np.ndarray:
    from gensim.matutils import Sparse2Corpus

    gamma, _ = model.inference(list(Sparse2Corpus(counts, documents_columns=False)))  # type: ignore[attr-defined]
    return gamma.argmax(axis=1)


def unigram_perplexity(train: sp.csr_matrix, held_out: sp.csr_matrix) -> float:
    """Perplexity of word frequencies alone (add-one smoothed): the floor LDA's topics should improve on."""
    frequency = np.asarray(train.sum(axis=0)).ravel() + 1.0
    log_p = np.log(frequency / frequency.sum())
    return float(np.exp(-(held_out @ log_p).sum() / held_out.sum()))


def completion_perplexities(lda: object, train: sp.csr_matrix, held_out: sp.csr_matrix) -> tuple[float, float]:
    """Document completion (Wallach et al. 2009): each held-out basket's items are split at random in halves;
    the LDA infers the basket's missions from one half and predicts the other; (LDA, unigram) perplexity on
    the same predicted items. scikit-learn's `perplexity` is a variational bound, not comparable with an exact
    unigram model's, and gensim's is the same bound, hence this estimate."""
    rng = np.random.default_rng(0)
    observed = held_out.copy()
    observed.data = rng.binomial(held_out.data.astype(np.int64), 0.5).astype(np.float64)
    predicted = held_out - observed
    observed.eliminate_zeros()
    predicted.eliminate_zeros()
    both = (np.asarray(observed.sum(axis=1)).ravel() > 0) & (np.asarray(predicted.sum(axis=1)).ravel() > 0)
    observed, predicted = observed[both], predicted[both].tocoo()
    theta = lda.transform(observed)  # type: ignore[attr-defined]
    phi = lda.components_ / lda.components_.sum(axis=1, keepdims=True)  # type: ignore[attr-defined]
    p_word = np.einsum("ik,ki->i", theta[predicted.row], phi[:, predicted.col])
    lda_perplexity = float(np.exp(-(predicted.data * np.log(p_word)).sum() / predicted.data.sum()))
    return lda_perplexity, unigram_perplexity(train, predicted.tocsr())


def granularity_table(baskets: pl.DataFrame, lines: pl.DataFrame, rule: np.ndarray, args: argparse.Namespace) -> None:
    """Section 3: one LDA per granularity, trained on earlier weeks and measured on later weeks' baskets."""
    weeks = sorted(baskets["SHOP_WEEK"].unique().to_list())
    cut = weeks[-args.heldout_weeks]
    indexed = baskets.with_columns(pl.Series("RULE", rule)).with_row_index("ROW")
    train = indexed.filter(pl.col("SHOP_WEEK") < cut)
    train = train.sample(min(args.fit_baskets, train.height), seed=0).sort("ROW")
    later = indexed.filter(pl.col("SHOP_WEEK") >= cut)
    later = later.sample(min(args.heldout_baskets, later.height), seed=0).sort("ROW")
    print(
        f"\n3. granularity at k={args.granularity_k}: fitted on {train.height:,} baskets sampled from weeks "
        f"{weeks[0]}..{weeks[weeks.index(cut) - 1]}, measured on {later.height:,} baskets sampled from weeks "
        f"{cut}..{weeks[-1]}"
    )
    labelled = later.filter(pl.col("BASKET_DOMINANT_MISSION") != "XX")
    rule_nmi = agreement(labelled["RULE"].to_numpy(), labelled["BASKET_DOMINANT_MISSION"].to_list())["nmi"]
    header = (
        f"{'granularity':<12}{'words':>7}{'fit s':>7}{'OOV lines':>10}{'bound ppl':>10}{'completion':>11}"
        f"{'unigram':>9}{'x unigram':>10}{'NPMI top10':>11}{'NMI dom':>9}{'random':>8}{'rule NMI':>9}"
    )
    print(header)
    for granularity in GRANULARITIES:
        started = time.perf_counter()
        model = fit_missions(
            train["PRODUCTS"].to_list(),
            train["QUANTITIES"].to_list(),
            [args.granularity_k],
            args.max_iter,
            learning_method="online",
            granularity=granularity,
            levels=hierarchy_levels(lines, granularity),
            holdout_share=0.05,  # the k is fixed, so the in-sample holdout only needs to exist
        )
        seconds = time.perf_counter() - started
        vectorizer = model.vectorizer
        held = vectorizer.transform(later["PRODUCTS"].to_list(), later["QUANTITIES"].to_list())
        words = [vectorizer.word(p) for basket in later["PRODUCTS"].to_list() for p in basket]
        oov = sum(w not in vectorizer.vocabulary for w in words) / len(words)
        known = np.asarray(held.sum(axis=1)).ravel() > 0
        fitted = vectorizer.transform(train["PRODUCTS"].to_list(), train["QUANTITIES"].to_list())
        perplexity = float(model.lda.perplexity(held[known]))
        completion, unigram = completion_perplexities(model.lda, fitted, held[known])
        top = np.argsort(-model.lda.components_, axis=1)[:, : min(10, held.shape[1])]
        npmi = float(np.mean(npmi_coherence(top, held[known])))
        missions = np.where(known, model.lda.transform(held).argmax(axis=1), -1)
        scored = later.with_columns(pl.Series("MISSION", missions)).filter(
            (pl.col("BASKET_DOMINANT_MISSION") != "XX") & (pl.col("MISSION") >= 0)
        )
        nmi = agreement(scored["MISSION"].to_numpy(), scored["BASKET_DOMINANT_MISSION"].to_list())
        print(
            f"{granularity:<12}{len(vectorizer.vocabulary):>7}{seconds:>7.1f}{oov:>10.2%}{perplexity:>10.1f}"
            f"{completion:>11.1f}{unigram:>9.1f}{completion / unigram:>10.3f}{npmi:>11.3f}{nmi['nmi']:>9.4f}{nmi['random_nmi']:>8.4f}"
            f"{rule_nmi:>9.4f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit-baskets", type=int, default=20_000)
    parser.add_argument("--k-grid", default="10,15,20,25,30")
    parser.add_argument("--method-k", type=int, default=20)
    parser.add_argument("--max-iter", type=int, default=20)
    parser.add_argument("--only-granularity", action="store_true", help="run section 3 alone")
    parser.add_argument("--granularity-k", type=int, default=10)  # the k the pipeline's grid picks on real weeks
    parser.add_argument("--heldout-weeks", type=int, default=8)
    parser.add_argument("--heldout-baskets", type=int, default=10_000)
    args = parser.parse_args()
    grid = [int(k) for k in args.k_grid.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        weeks, source = land_weeks(Path(tmp))
        baskets = pl.from_arrow(load_baskets(Path(tmp)))
        lines = landed_lines(Path(tmp))
        rule = division_rule(lines, baskets)
    fit = baskets.sample(min(args.fit_baskets, baskets.height), seed=0)
    products, quantities = baskets["PRODUCTS"].to_list(), baskets["QUANTITIES"].to_list()
    print(f"{len(weeks)} weeks from {source}: {baskets.height:,} baskets, LDA fitted on {fit.height:,}")

    if args.only_granularity:
        granularity_table(baskets, lines, rule, args)
        return
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
        show(method, timings, perplexities, nmi_rows(baskets, model.assign(products, quantities)[0]))
    seconds, perplexity, peer = gensim_lda(model.vectorizer, fit, args.method_k, args.max_iter)
    timings["gensim"], perplexities["gensim"] = seconds, perplexity
    show(
        "gensim",
        timings,
        perplexities,
        nmi_rows(baskets, gensim_assign(peer, model.vectorizer.transform(products, quantities))),
    )
    print(
        f"online / gensim: x{timings['gensim'] / timings['online']:.2f} the speed, "
        f"perplexity {perplexities['online']:.0f} vs {perplexities['gensim']:.0f} (lower is better)"
    )
    del perplexities["gensim"]  # the k grid below uses the pipeline's scikit-learn solvers
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
    granularity_table(baskets, lines, rule, args)


if __name__ == "__main__":
    main()
