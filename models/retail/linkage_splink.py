"""Customer deduplication with splink 4 on an in-memory DuckDB: the engine behind `customer_entities`.

Same Fellegi-Sunter model as the hand-written baseline in `models/retail/dedup.py` (kept for the
benchmark), run by a maintained library: u-probabilities from random record pairs, m-probabilities
by EM over blocked pairs (no labels), predict over the union of blocking rules, connected-component
clusters at `MATCH_THRESHOLD`. Records are normalised by the baseline's `normalise` so both engines
see the same values; empty strings become NULL, which splink treats as "no information".

Offline and side-effect free: splink itself never fetches anything, DuckDB extension auto-install
and auto-load are switched off (the string functions used are DuckDB core), the database lives in
memory and DuckDB's spill directory is a temporary directory removed afterwards.
"""

from __future__ import annotations

import logging
import tempfile
import time
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.internals.exceptions import EMTrainingException

from models.retail.dedup import LinkageResult, customer_records, normalise

# Pairs at or above this match probability are linked; clusters are connected components. splink's
# prior is the match share of *all* record pairs (1e-5 at 100k records, the baseline's is over blocked
# pairs), so its probabilities sit lower: 0.7 gave the best F1 on generated stores of 4.8k-100k records
# (0.977-0.987, precision >= 0.993); the original's 0.97 costs ~3 points of recall.
MATCH_THRESHOLD = 0.7

COMPARED = ("first_name", "last_name", "company", "address", "city", "state", "zip", "phone", "email")

# splink's parameter-estimation warnings: one per comparison level that a tiny or clean training sample never
# shows, per EM session (dozens per run, flooding the demo console and run logs). The parameters they concern
# are reported anyway (`m_probabilities`/`u_probabilities`, NaN where untrained), so these are counted in
# `stats["parameter_warnings"]` instead of printed. Only these messages: any other splink warning still shows.
PARAMETER_WARNINGS = (
    "unable to train m value",
    "default value for `max_pairs`",
    "parameter estimates which have neither been estimated or specified",
)
PARAMETER_WARNING_LOGGERS = (
    "splink.internals.expectation_maximisation",
    "splink.internals.linker_components.training",
    "splink.internals.linker",
)


class _ParameterWarnings(logging.Filter):
    """Drops (and counts) splink's parameter-estimation warnings; a filter on the emitting loggers, because a
    filter on the parent `splink` logger does not see records its children propagate."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if any(text in record.getMessage() for text in PARAMETER_WARNINGS):
            self.count += 1
            return False
        return True


# Same candidate pairs as the baseline's BLOCKING_RULES (union over rules; a pair is scored once).
BLOCKING_RULES = {
    "email": block_on("email"),
    "phone": block_on("phone"),
    "zip_last3": block_on("zip", "last3"),
    "zip_first3": block_on("zip", "first3"),
    "zip_house_number": block_on("zip", "house_number"),
    "names_sorted": block_on("names_sorted", "zip"),  # first and last name swapped
}

# EM sessions: each fixes the fields in its rule and trains the others; together they train every field.
TRAINING_RULES = (block_on("email"), block_on("phone"), block_on("zip", "house_number"))

# Near-certain duplicates, for the prior (share of random pairs that match) at an assumed recall.
DETERMINISTIC_RULES = (block_on("email"), block_on("phone"))


def _zip_comparison() -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name="zip",
        comparison_levels=[
            cll.NullLevel("zip"),
            cll.ExactMatchLevel("zip"),
            cll.CustomLevel("substr(zip_l, 1, 3) = substr(zip_r, 1, 3)", label_for_charts="same 3-digit prefix"),
            cll.ElseLevel(),
        ],
    )


def settings() -> SettingsCreator:
    """Comparisons per field, blocking rules and model options."""
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="row_id",
        comparisons=[
            # exact both / swapped first-last / Jaro-Winkler levels on each name / else
            cl.ForenameSurnameComparison("first_name", "last_name", jaro_winkler_thresholds=[0.92, 0.8]),
            cl.LevenshteinAtThresholds("address", [2, 6]),  # typos vs a different street
            cl.ExactMatch("city"),
            cl.ExactMatch("state"),
            _zip_comparison(),
            cl.LevenshteinAtThresholds("phone", [1]),  # one mistyped digit
            cl.EmailComparison("email"),
            cl.ExactMatch("company"),
        ],
        blocking_rules_to_generate_predictions=list(BLOCKING_RULES.values()),
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def _offline_connection(spill_dir: str) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(
        ":memory:",
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "temp_directory": spill_dir,
        },
    )


def _parameters(model: dict[str, Any]) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    m, u = {}, {}
    for comparison in model["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        name = comparison["output_column_name"]
        m[name] = [round(float(lv.get("m_probability", np.nan)), 4) for lv in levels]
        u[name] = [round(float(lv.get("u_probability", np.nan)), 4) for lv in levels]
    return m, u


def link_records_splink(
    records: pd.DataFrame,
    threshold: float = MATCH_THRESHOLD,
    u_pairs: int = 1_000_000,
    prior_recall: float = 0.8,
    seed: int = 0,
) -> LinkageResult:
    """Deduplicate `records` (columns `record_key` + fields) with splink; entity id = smallest key in the cluster."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    norm = normalise(records)
    frame = norm[list(COMPARED) + ["first3", "last3", "house_number", "names_sorted"]].replace("", None)
    frame.insert(0, "row_id", np.arange(len(frame), dtype=np.int64))
    timings["normalise"] = time.perf_counter() - started
    n = len(records)
    em_skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="splink_") as spill_dir:
        connection = _offline_connection(spill_dir)
        try:
            t = time.perf_counter()
            linker = Linker(frame, settings(), DuckDBAPI(connection), set_up_basic_logging=False)
            splink_logger = logging.getLogger("splink")
            level = splink_logger.level
            splink_logger.setLevel(logging.WARNING)  # its per-step INFO lines would flood the run log
            parameter_warnings = _ParameterWarnings()
            for name in PARAMETER_WARNING_LOGGERS:
                logging.getLogger(name).addFilter(parameter_warnings)
            try:
                linker.training.estimate_probability_two_random_records_match(
                    list(DETERMINISTIC_RULES), recall=prior_recall
                )
                linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=seed)
                for rule in TRAINING_RULES:
                    try:
                        linker.training.estimate_parameters_using_expectation_maximisation(rule)
                    except EMTrainingException:  # no pairs under this rule (tiny input): train on the others
                        em_skipped.append(rule.get_blocking_rule("duckdb").blocking_rule_sql)
                timings["train_em"] = time.perf_counter() - t
                t = time.perf_counter()
                predictions = linker.inference.predict()
                scored = predictions.as_pandas_dataframe()
                timings["predict"] = time.perf_counter() - t
                t = time.perf_counter()
                clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
                    predictions, threshold_match_probability=threshold
                ).as_pandas_dataframe()[["row_id", "cluster_id"]]
                model = linker.misc.save_model_to_json()
            finally:
                splink_logger.setLevel(level)
                for name in PARAMETER_WARNING_LOGGERS:
                    logging.getLogger(name).removeFilter(parameter_warnings)
        finally:
            connection.close()

    keys = records["record_key"].astype(str).to_numpy()
    clusters = clusters.sort_values("row_id")
    assert len(clusters) == n and (clusters["row_id"].to_numpy() == np.arange(n)).all(), "one cluster per record"
    entities = pd.DataFrame({"record_key": keys, "cluster": pd.factorize(clusters["cluster_id"])[0]})
    entities["entity_id"] = entities.groupby("cluster")["record_key"].transform("min")
    entities["cluster_size"] = entities.groupby("cluster")["record_key"].transform("size").astype(np.int32)
    left = scored["row_id_l"].to_numpy(dtype=np.int64)
    right = scored["row_id_r"].to_numpy(dtype=np.int64)
    probability = scored["match_probability"].to_numpy(dtype=float)
    linked = probability >= threshold
    best = np.full(n, np.nan)
    np.fmax.at(best, left[linked], probability[linked])
    np.fmax.at(best, right[linked], probability[linked])
    entities["match_score"] = best
    timings["cluster"] = time.perf_counter() - t

    m, u = _parameters(model)
    rule_names = list(BLOCKING_RULES)
    per_rule = scored["match_key"].astype(int).value_counts()
    stats = {
        "engine": "splink",
        "records": n,
        "candidate_pairs": len(scored),
        # pairs each rule adds beyond the earlier rules (splink scores a pair once, under its first rule)
        "pairs_per_rule": {rule_names[int(k)]: int(v) for k, v in per_rule.sort_index().items()},
        "linked_pairs": int(linked.sum()),
        "entities": int(entities["entity_id"].nunique()),
        "match_prior": float(model["probability_two_random_records_match"]),
        "threshold": threshold,
        "em_sessions_skipped": em_skipped,
        "parameter_warnings": parameter_warnings.count,
        "m_probabilities": m,
        "u_probabilities": u,
        "seconds": {k: round(v, 3) for k, v in timings.items()},
    }
    pairs = pd.DataFrame({"left": left, "right": right, "match_probability": probability})
    return LinkageResult(entities[["record_key", "entity_id", "match_score", "cluster_size"]], pairs, stats)


# What `customer_entities` reports of a linkage besides the counts.
REPORTED_STATS = (
    "engine",
    "pairs_per_rule",
    "match_prior",
    "threshold",
    "em_sessions_skipped",
    "parameter_warnings",
    "m_probabilities",
    "u_probabilities",
    "seconds",
)


def link_customers(customers: pd.DataFrame) -> LinkageResult:
    """Entities of `store_customers` rows (record_key, entity_id, match_score, cluster_size, plus each record's
    store_id and customer_id), linked by splink across every store."""
    linkage = link_records_splink(customer_records(customers))
    entities = linkage.entities.merge(customers[["record_key", "store_id", "customer_id"]], on="record_key")
    return LinkageResult(entities, linkage.pairs, linkage.stats)


def linkage_summary(stats: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(headline counts, the rest of the linkage's parameters and timings) of `LinkageResult.stats`."""
    counts = {
        "records": stats["records"],
        "entities": stats["entities"],
        "candidate_pairs": stats["candidate_pairs"],
        "linked_pairs": stats["linked_pairs"],
        "candidate_pairs_per_record": round(stats["candidate_pairs"] / max(stats["records"], 1), 3),
    }
    return counts, {k: stats[k] for k in REPORTED_STATS}
