"""Choosing the served next-basket model on validation weeks: the TopFreq baselines, TIFU-KNN (tuned) and the
repeat/explore network, compared with `foundation.model_selection` (champion on validation NDCG@10, test
metrics with paired bootstrap intervals over baskets), and the champion saved for scoring.

Presets size the work: `tiny` (tests, seconds), `small` (the demo's 9 weeks), `cpu` (the default without a GPU: a few minutes on 2 cores),
`gpu` (wider grids, a bigger network, more epochs). `foundation.hardware.choose_preset` picks cpu/gpu when
none is configured. TIFU-KNN is tuned in two stages to stay cheap: the decay settings (group size, r_b, r_g)
with alpha = 1 (no neighbours), then neighbours x alpha for the best decay setting, whose neighbour lists are
computed once at the largest k.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from foundation.markdown import markdown_table
from foundation.model_selection import Comparison, bootstrap_interval, compare_candidates
from foundation.ranking_metrics import top_k_by_partition
from models.dunnhumby.basket_log import BasketLog
from models.dunnhumby.next_basket_evaluation import (
    BASELINES,
    Scorer,
    WeekQueries,
    WeekSplit,
    evaluate_scorer,
    fill_with_popularity,
    per_query_metrics,
    split_queries,
)
from models.dunnhumby.tifu_knn import TifuKnnConfig, customer_vectors, nearest_neighbours, neighbour_mean, tifu_scores

TIFU = "TIFU-KNN"
NETWORK = "RepeatExplore-MLP"
CHAMPION_FILE = "champion.json"
REPORT_FILE = "report.json"
SELECTION_METRIC = "ndcg@10"


@dataclass(frozen=True)
class SelectionConfig:
    validation_weeks: int = 4
    test_weeks: int = 4
    min_history: int = 2
    top_k: int = 10
    decay_grid: tuple[tuple[int, float, float], ...] = ((3, 1.0, 0.6), (3, 1.0, 0.8), (7, 1.0, 0.6), (7, 1.0, 0.8))
    neighbour_grid: tuple[int, ...] = (50, 150, 300)
    alpha_grid: tuple[float, ...] = (0.3, 0.5, 0.7, 0.9, 1.0)
    network: bool = True
    network_epochs: int = 4
    network_training_weeks: int = 4
    network_hidden: tuple[int, ...] = (32, 16)
    seed: int = 0

    @classmethod
    def preset(cls, name: str) -> SelectionConfig:
        presets = {
            "tiny": cls(
                validation_weeks=1, test_weeks=1, decay_grid=((3, 1.0, 0.8),), neighbour_grid=(5,),
                alpha_grid=(0.7, 1.0), network_epochs=1, network_training_weeks=2, network_hidden=(8,),
            ),
            "small": cls(
                validation_weeks=2, test_weeks=2, decay_grid=((3, 1.0, 0.8), (7, 1.0, 0.6)), neighbour_grid=(20, 50),
                alpha_grid=(0.5, 0.9, 1.0), network_epochs=2, network_training_weeks=2,
            ),
            "cpu": cls(),
            "gpu": cls(
                decay_grid=tuple((m, rb, rg) for m in (3, 5, 7, 11) for rb in (0.9, 1.0) for rg in (0.6, 0.7, 0.8, 0.9)),
                neighbour_grid=(50, 150, 300, 600), network_epochs=8, network_training_weeks=8,
                network_hidden=(64, 32),
            ),
        }  # fmt: skip
        if name not in presets:
            raise ValueError(f"unknown next-basket preset {name!r}; choose one of {sorted(presets)}")
        return presets[name]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# -- the served model ------------------------------------------------------------------------------


@dataclass
class ServedNextBasket:
    """What scoring loads: the champion's kind, its settings and the product vocabulary it knows."""

    kind: str  # a BASELINES name, TIFU or NETWORK
    products: list[str]
    tifu: TifuKnnConfig | None = None
    network: Any = None  # RepeatExploreModel (Keras) when kind == NETWORK

    def scores(self, history: BasketLog, rows: np.ndarray) -> np.ndarray:
        if self.kind in BASELINES:
            return BASELINES[self.kind](history, rows)
        if self.kind == TIFU:
            return fill_with_popularity(tifu_scores(history, rows, self.tifu), history)
        if self.kind == NETWORK:
            return self.network.scores(history, rows)
        raise ValueError(f"unknown next-basket model kind {self.kind!r}")

    def recommend(self, history: BasketLog, rows: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """Top-k (product, score) per row; slots a baseline leaves empty (-inf) are dropped."""
        if rows.size == 0:
            return []
        scores = self.scores(history, rows)
        top = top_k_by_partition(scores, k)
        return [
            [(history.products[j], float(scores[i, j])) for j in row if np.isfinite(scores[i, j])]
            for i, row in enumerate(top)
        ]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"kind": self.kind, "products": self.products, "tifu": self.tifu.to_json() if self.tifu else None}
        (folder / CHAMPION_FILE).write_text(json.dumps(meta))
        if self.network is not None:
            self.network.save(folder)

    @classmethod
    def load(cls, folder: Path) -> ServedNextBasket:
        meta = json.loads((folder / CHAMPION_FILE).read_text())
        tifu = TifuKnnConfig(**meta["tifu"]) if meta["tifu"] else None
        network = None
        if meta["kind"] == NETWORK:
            from models.dunnhumby.repeat_explore import RepeatExploreModel  # Keras: only for this champion

            network = RepeatExploreModel.load(folder, meta["products"])
        return cls(meta["kind"], meta["products"], tifu, network)


# -- selection -------------------------------------------------------------------------------------


def tune_tifu(validation: Sequence[WeekQueries], config: SelectionConfig) -> tuple[TifuKnnConfig, dict[str, float]]:
    """Best TIFU-KNN setting by mean validation NDCG@k (two stages, see the module doc); every setting's score."""
    k = config.top_k
    tried: dict[str, float] = {}

    def mean_ndcg(score_week) -> float:
        values = [per_query_metrics(score_week(q), q, k)[f"all/ndcg@{k}"] for q in validation]
        return float(np.nanmean(np.concatenate(values)))

    best_decay, best = None, -1.0
    for m, rb, rg in config.decay_grid:
        setting = TifuKnnConfig(m, rb, rg, 0, 1.0)
        value = mean_ndcg(lambda q, s=setting: fill_with_popularity(tifu_scores(q.history, q.rows, s), q.history))
        tried[f"m={m} rb={rb} rg={rg} alpha=1"] = round(value, 4)
        if value > best:
            best_decay, best = setting, value
    assert best_decay is not None, "empty decay grid"
    max_k = max(config.neighbour_grid)
    cache = []
    for q in validation:
        vectors = customer_vectors(q.history, best_decay)
        cache.append((vectors[q.rows].toarray(), vectors, nearest_neighbours(vectors, q.rows, max_k)))
    chosen = best_decay
    for n in config.neighbour_grid:
        means = [neighbour_mean(vectors, nearest, n) for _, vectors, nearest in cache]
        for alpha in config.alpha_grid:
            if alpha >= 1.0:
                continue  # stage 1 measured it
            values = [
                per_query_metrics(fill_with_popularity(alpha * own + (1 - alpha) * mean, q.history), q, k)[
                    f"all/ndcg@{k}"
                ]
                for q, (own, _, _), mean in zip(validation, cache, means, strict=True)
            ]
            value = float(np.nanmean(np.concatenate(values)))
            tried[
                f"m={best_decay.group_size} rb={best_decay.within_decay} rg={best_decay.group_decay} k={n} alpha={alpha}"
            ] = round(value, 4)  # noqa: E501
            if value > best:
                chosen, best = replace(best_decay, neighbours=n, alpha=alpha), value
    return chosen, tried


@dataclass
class SelectionRun:
    config: SelectionConfig
    split: WeekSplit
    comparison: Comparison
    breakdown: dict[str, dict[str, Any]]  # candidate -> test repeat/explore metric -> interval json
    tifu: TifuKnnConfig
    tifu_tried: dict[str, float]
    served: ServedNextBasket
    seconds: dict[str, float]
    queries: dict[str, int]
    network_loss: list[float] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {
            "split": self.split.to_json(),
            "queries": self.queries,
            "selection": self.comparison.to_json(),
            "test_repeat_explore": self.breakdown,
            "tifu_knn": self.tifu.to_json(),
            "tifu_knn_validation_ndcg": self.tifu_tried,
            "network_loss": self.network_loss,
            "seconds": self.seconds,
            "config": self.config.to_json(),
        }

    def save(self, folder: Path) -> None:
        self.served.save(folder)
        (folder / REPORT_FILE).write_text(json.dumps(self.report(), indent=2))

    def summary(self) -> dict[str, Any]:
        c, k = self.comparison, self.config.top_k
        out: dict[str, Any] = {
            "champion": c.champion,
            "champion_is_baseline": c.champion_is_baseline,
            "runner_up": c.runner_up or "",
            "best_baseline": c.best_baseline or "",
            f"champion_test_ndcg@{k}": str(c.test[c.champion][f"ndcg@{k}"]),
            f"champion_test_recall@{k}": str(c.test[c.champion][f"recall@{k}"]),
            "validation_queries": self.queries["validation"],
            "test_queries": self.queries["test"],
        }
        if c.best_baseline:
            out[f"best_baseline_test_ndcg@{k}"] = str(c.test[c.best_baseline][f"ndcg@{k}"])
        if c.champion_vs_best_baseline is not None:
            out[f"champion_minus_best_baseline_test_ndcg@{k}"] = str(c.champion_vs_best_baseline)
        return out

    def markdown(self) -> str:
        k = self.config.top_k
        metrics = [f"ndcg@{k}", f"recall@{k}", f"phr@{k}"]
        header = list(self.comparison.table_header(metrics)) + [f"test repeat ndcg@{k}", f"test explore ndcg@{k}"]
        rows = [
            [
                *row,
                self.breakdown[row[0]][f"repeat/ndcg@{k}"]["text"],
                self.breakdown[row[0]][f"explore/ndcg@{k}"]["text"],
            ]
            for row in self.comparison.table_rows(metrics)
        ]
        return markdown_table(header, rows)


def select_next_basket(
    log: BasketLog, config: SelectionConfig, log_line=print, extra_candidates: Mapping[str, Scorer] | None = None
) -> SelectionRun:
    """Every candidate on the same validation and test queries; the validation champion is what is served.
    `extra_candidates` (the benchmark's original BiLSTM) are compared but cannot be served."""
    k = config.top_k
    split = WeekSplit.last_weeks(log.weeks, config.validation_weeks, config.test_weeks)
    validation = split_queries(log, split.validation, config.min_history)
    test = split_queries(log, split.test, config.min_history)
    queries = {"validation": int(sum(q.rows.size for q in validation)), "test": int(sum(q.rows.size for q in test))}
    if not queries["validation"] or not queries["test"]:
        raise ValueError(f"no customer with {config.min_history} earlier baskets shops in the validation/test weeks")
    log_line(f"weeks {split.to_json()}, queries {queries}")
    per_query: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    full: dict[str, dict[str, np.ndarray]] = {}
    seconds: dict[str, float] = {}

    def add(name: str, scorer) -> None:
        started = time.perf_counter()
        v, t = evaluate_scorer(scorer, validation, k), evaluate_scorer(scorer, test, k)
        seconds[f"{name} evaluate"] = round(time.perf_counter() - started, 1)
        per_query[name] = {
            "validation": {m: np.nan_to_num(v[f"all/{m}"]) for m in (f"ndcg@{k}", f"recall@{k}", f"phr@{k}")},
            "test": {m: np.nan_to_num(t[f"all/{m}"]) for m in (f"ndcg@{k}", f"recall@{k}", f"phr@{k}")},
        }
        full[name] = t
        log_line(f"{name}: validation NDCG@{k} {per_query[name]['validation'][f'ndcg@{k}'].mean():.4f}")

    for name, scorer in BASELINES.items():
        add(name, scorer)
    started = time.perf_counter()
    tifu, tried = tune_tifu(validation, config)
    seconds[f"{TIFU} tune"] = round(time.perf_counter() - started, 1)
    log_line(f"{TIFU} tuned on validation: {tifu}")
    add(TIFU, lambda history, rows: fill_with_popularity(tifu_scores(history, rows, tifu), history))

    network, loss = None, []
    if config.network:
        from models.dunnhumby.repeat_explore import RepeatExploreConfig, RepeatExploreModel, training_queries

        network_config = RepeatExploreConfig(
            epochs=config.network_epochs, training_weeks=config.network_training_weeks,
            hidden=config.network_hidden, seed=config.seed, tifu=tifu,
        )  # fmt: skip
        started = time.perf_counter()
        training = training_queries(log, split.train, network_config, config.min_history)
        network = RepeatExploreModel.train([q for q in training if q.rows.size], network_config)
        seconds[f"{NETWORK} train"] = round(time.perf_counter() - started, 1)
        loss = network.loss
        add(NETWORK, network.scores)

    for name, scorer in (extra_candidates or {}).items():
        add(name, scorer)
    comparison = compare_candidates(
        per_query, f"ndcg@{k}", baselines=set(BASELINES), seed=config.seed, settings={"tifu_knn": tifu.to_json()}
    )
    breakdown = {
        name: {
            metric: _interval_json(values)
            for metric, values in metrics.items()
            if metric.startswith(("repeat/", "explore/"))
        }
        for name, metrics in full.items()
    }
    champion = next(c for c in comparison.ranking if c not in (extra_candidates or {}))  # servable
    served = ServedNextBasket(
        champion, list(log.products), tifu if champion == TIFU else None, network if champion == NETWORK else None
    )
    return SelectionRun(config, split, comparison, breakdown, tifu, tried, served, seconds, queries, loss)


def _interval_json(values: np.ndarray) -> dict[str, Any]:
    values = values[~np.isnan(values)]
    interval = bootstrap_interval(values)
    return interval.to_json() | {"queries": int(values.size), "text": str(interval)}
