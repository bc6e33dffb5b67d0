"""Shopping missions: LDA over baskets (a basket is a document, a product repeated by its quantity a word).

The number of missions k is chosen by perplexity on held-out baskets over a configurable grid. The
vocabulary (`BasketVectorizer`) is fitted once and saved with the model, so scoring new baskets uses
exactly the training vocabulary (the original refit its IDF on the scoring data).
"""

from __future__ import annotations

import json
import pickle
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import scipy.sparse as sp

if TYPE_CHECKING:
    from sklearn.decomposition import LatentDirichletAllocation


# A line's word at each granularity: the product itself or one of its hierarchy codes (transaction columns).
GRANULARITIES = {
    "product": "PROD_CODE",
    "class": "PROD_CODE_10",
    "department": "PROD_CODE_20",
    "division": "PROD_CODE_40",
}


@dataclass
class BasketVectorizer:
    """Vocabulary fixed at fit time; quantities are capped so one bulk buy does not dominate.

    At a coarser `granularity` than "product" each line counts as its product's hierarchy code, looked up in
    `levels` (PROD_CODE -> code, saved with the model); a product the lookup lacks is unknown, like a product
    outside a product vocabulary.
    """

    max_quantity: int = 10
    vocabulary: dict[str, int] = field(default_factory=dict)
    granularity: str = "product"  # class defaults: models pickled before these fields load as product models
    levels: dict[str, str] | None = None

    def __post_init__(self) -> None:
        if self.granularity not in GRANULARITIES:
            raise ValueError(f"granularity {self.granularity!r} is not one of {sorted(GRANULARITIES)}")

    def word(self, product: str) -> str | None:
        """The vocabulary word a line of this product counts as (None: no code known for it)."""
        if self.granularity == "product":
            return product
        return (self.levels or {}).get(product)

    def fit(self, products: Sequence[Sequence[str]], levels: dict[str, str] | None = None) -> BasketVectorizer:
        if self.granularity != "product":
            if not levels:
                raise ValueError(f"granularity {self.granularity!r} needs the PROD_CODE -> code lookup (levels)")
            self.levels = dict(levels)
        words = {self.word(p) for basket in products for p in basket} - {None}
        self.vocabulary = {word: i for i, word in enumerate(sorted(words))}  # type: ignore[arg-type]
        return self

    def transform(self, products: Sequence[Sequence[str]], quantities: Sequence[Sequence[int]]) -> sp.csr_matrix:
        rows, cols, values = [], [], []
        for row, (basket, counts) in enumerate(zip(products, quantities, strict=True)):
            for product, quantity in zip(basket, counts, strict=True):
                column = self.vocabulary.get(self.word(product))  # type: ignore[arg-type]
                if column is not None:
                    rows.append(row)
                    cols.append(column)
                    values.append(min(int(quantity), self.max_quantity))
        matrix = sp.csr_matrix((values, (rows, cols)), shape=(len(products), len(self.vocabulary)), dtype=np.float64)
        matrix.sum_duplicates()  # the cap is per line: a coarse word counts the items of all its products
        return matrix

    @property
    def products(self) -> list[str]:
        """The vocabulary in column order (product codes, or hierarchy codes at a coarser granularity)."""
        return sorted(self.vocabulary, key=self.vocabulary.__getitem__)


@dataclass
class MissionModel:
    vectorizer: BasketVectorizer
    lda: LatentDirichletAllocation
    perplexity_by_k: dict[int, float]
    fit_seconds: float

    @property
    def k(self) -> int:
        return int(self.lda.n_components)

    def mission_distribution(
        self, products: Sequence[Sequence[str]], quantities: Sequence[Sequence[int]]
    ) -> np.ndarray:
        return self.lda.transform(self.vectorizer.transform(products, quantities))

    def assign(
        self, products: Sequence[Sequence[str]], quantities: Sequence[Sequence[int]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each basket's mission and the probability of it; a basket without any product of the vocabulary
        has mission -1 and probability NaN (LDA would give it the prior: mission 0 at 1/k)."""
        counts = self.vectorizer.transform(products, quantities)
        theta = self.lda.transform(counts)
        known = np.asarray(counts.sum(axis=1)).ravel() > 0
        return np.where(known, theta.argmax(axis=1), -1), np.where(known, theta.max(axis=1), np.nan)

    def top_products(self, n: int = 10) -> pl.DataFrame:
        weights = self.lda.components_ / self.lda.components_.sum(axis=1, keepdims=True)
        names = self.vectorizer.products
        rows = []
        for mission, row in enumerate(weights):
            for rank, column in enumerate(np.argsort(-row)[:n], start=1):
                rows.append(
                    {"MISSION": mission, "RANK": rank, "PROD_CODE": names[column], "WEIGHT": float(row[column])}
                )
        return pl.DataFrame(
            rows, schema={"MISSION": pl.Int32, "RANK": pl.Int32, "PROD_CODE": pl.Utf8, "WEIGHT": pl.Float64}
        )

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "mission_model.pkl", "wb") as f:
            pickle.dump(self, f)
        (folder / "perplexity.json").write_text(json.dumps({str(k): v for k, v in self.perplexity_by_k.items()}))

    @staticmethod
    def load(folder: Path) -> MissionModel:
        with open(folder / "mission_model.pkl", "rb") as f:
            return pickle.load(f)


def fit_missions(
    products: Sequence[Sequence[str]],
    quantities: Sequence[Sequence[int]],
    k_grid: Sequence[int],
    max_iter: int = 20,
    holdout_share: float = 0.2,
    learning_method: str = "online",
    seed: int = 0,
    granularity: str = "product",
    levels: dict[str, str] | None = None,
) -> MissionModel:
    """Fit LDA for every k in the grid on training baskets; keep the k with the lowest held-out perplexity.
    Words are products or, at another `granularity`, their hierarchy codes from `levels` (PROD_CODE -> code)."""
    started = time.perf_counter()
    vectorizer = BasketVectorizer(granularity=granularity).fit(products, levels)
    counts = vectorizer.transform(products, quantities)
    counts = counts[np.asarray(counts.sum(axis=1)).ravel() > 0]
    order = np.random.default_rng(seed).permutation(counts.shape[0])
    n_holdout = max(1, int(len(order) * holdout_share))
    held_out, train = counts[order[:n_holdout]], counts[order[n_holdout:]]
    perplexity: dict[int, float] = {}
    from sklearn.decomposition import (
        LatentDirichletAllocation,  # here: loading the code location must not import sklearn
    )

    best: LatentDirichletAllocation | None = None
    for k in k_grid:
        lda = LatentDirichletAllocation(
            n_components=int(k),
            learning_method=learning_method,
            max_iter=max_iter,
            batch_size=512,
            random_state=seed,
            n_jobs=1,
        ).fit(train)
        perplexity[int(k)] = float(lda.perplexity(held_out))
        if best is None or perplexity[int(k)] < perplexity[int(best.n_components)]:
            best = lda
    assert best is not None, "empty k grid"
    return MissionModel(vectorizer, best, perplexity, time.perf_counter() - started)


def agreement(missions: np.ndarray, labels: Sequence[str | int], seed: int = 0) -> dict[str, float]:
    """NMI of the missions with a labelling, next to a random assignment with the same mission sizes."""
    from sklearn.metrics import normalized_mutual_info_score

    labels = np.asarray(labels)
    shuffled = np.random.default_rng(seed).permutation(missions)
    return {
        "nmi": float(normalized_mutual_info_score(labels, missions)),
        "random_nmi": float(normalized_mutual_info_score(labels, shuffled)),
    }


def npmi_coherence(top_words: Sequence[Sequence[int]] | np.ndarray, counts: sp.csr_matrix) -> np.ndarray:
    """Each topic's mean NPMI over pairs of its top words, with baskets as the co-occurrence window
    (Bouma 2009; NPMI = log(p(i,j) / (p(i) p(j))) / -log p(i,j), -1 for a pair never seen together).

    `top_words` holds each topic's column indices, `counts` the (held-out) baskets x vocabulary matrix.
    Hand-written because gensim's CoherenceModel("c_npmi") slides a 10-token window over ordered texts (a
    basket has no order) and tokenises Python lists word by word; a sparse product counts every pair at once.
    """
    present = (counts > 0).astype(np.float64).tocsc()
    n = counts.shape[0]
    scores = np.zeros(len(top_words))
    for topic, words in enumerate(top_words):
        sub = present[:, list(words)]
        joint = np.asarray((sub.T @ sub).todense()) / n
        single = np.diag(joint)
        values = []
        for a in range(len(words)):
            for b in range(a + 1, len(words)):
                p_ab = joint[a, b]
                if p_ab <= 0:
                    values.append(-1.0)
                elif p_ab >= 1:
                    values.append(1.0)  # both words in every basket: perfectly associated
                else:
                    values.append(float(np.log(p_ab / (single[a] * single[b])) / -np.log(p_ab)))
        scores[topic] = float(np.mean(values)) if values else float("nan")
    return scores


PROFILE_ATTRIBUTES = (
    "BASKET_SIZE",
    "BASKET_TYPE",
    "BASKET_DOMINANT_MISSION",
    "BASKET_PRICE_SENSITIVITY",
    "STORE_FORMAT",
    "SHOP_WEEKDAY",
    "SHOP_HOUR",
)


def mission_profiles(baskets: pl.DataFrame, lines: pl.DataFrame | None = None) -> pl.DataFrame:
    """Index = share of a mission's baskets with a value / share of all baskets with it x 100.

    `baskets` has MISSION plus the PROFILE_ATTRIBUTES; `lines` (optional: MISSION, PROD_CODE_40,
    QUANTITY) adds the product hierarchy, measured on items instead of baskets.
    """
    frames = []
    total = baskets.height
    for attribute in PROFILE_ATTRIBUTES:
        counts = baskets.group_by("MISSION", attribute).agg(pl.len().alias("BASKETS"))
        overall = baskets.group_by(attribute).agg((pl.len() / total).alias("ALL_SHARE"))
        sizes = baskets.group_by("MISSION").agg(pl.len().alias("MISSION_BASKETS"))
        frames.append(
            counts.join(overall, on=attribute)
            .join(sizes, on="MISSION")
            .select(
                pl.col("MISSION").cast(pl.Int32),
                pl.lit(attribute).alias("ATTRIBUTE"),
                pl.col(attribute).cast(pl.Utf8).alias("VALUE"),
                pl.col("BASKETS").cast(pl.Int64),
                (pl.col("BASKETS") / pl.col("MISSION_BASKETS")).alias("SHARE"),
                (pl.col("BASKETS") / pl.col("MISSION_BASKETS") / pl.col("ALL_SHARE") * 100).alias("INDEX"),
            )
        )
    if lines is not None and lines.height:
        items = lines.group_by("MISSION", "PROD_CODE_40").agg(pl.col("QUANTITY").sum().alias("ITEMS"))
        overall = items.group_by("PROD_CODE_40").agg(pl.col("ITEMS").sum().alias("ALL_ITEMS"))
        overall = overall.with_columns((pl.col("ALL_ITEMS") / pl.col("ALL_ITEMS").sum()).alias("ALL_SHARE"))
        sizes = items.group_by("MISSION").agg(pl.col("ITEMS").sum().alias("MISSION_ITEMS"))
        frames.append(
            items.join(overall, on="PROD_CODE_40")
            .join(sizes, on="MISSION")
            .select(
                pl.col("MISSION").cast(pl.Int32),
                pl.lit("PROD_CODE_40").alias("ATTRIBUTE"),
                pl.col("PROD_CODE_40").alias("VALUE"),
                pl.col("ITEMS").cast(pl.Int64).alias("BASKETS"),
                (pl.col("ITEMS") / pl.col("MISSION_ITEMS")).alias("SHARE"),
                (pl.col("ITEMS") / pl.col("MISSION_ITEMS") / pl.col("ALL_SHARE") * 100).alias("INDEX"),
            )
        )
    return pl.concat(frames).sort("MISSION", "ATTRIBUTE", "VALUE")


def describe(model: MissionModel) -> dict[str, Any]:
    return {
        "k": model.k,
        "granularity": model.vectorizer.granularity,
        "perplexity_by_k": model.perplexity_by_k,
        "fit_seconds": round(model.fit_seconds, 2),
    }
