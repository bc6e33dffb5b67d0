"""Customer deduplication: blocking, Fellegi-Sunter scoring with EM, connected-component clusters.

The model is the one splink implements (probabilistic record linkage, Fellegi & Sunter 1969):
each candidate pair gets a comparison level per field (exact / close / far / missing); the
u-probabilities (how often non-matches agree at that level) are estimated from random record
pairs, the m-probabilities (how often matches do) and the match prior by expectation-maximisation
over the blocked pairs, with no labels. A pair's match probability follows from the summed
log-likelihood ratios; pairs above the threshold are linked and clusters are connected components.

`customer_entities` runs splink (`models/retail/linkage_splink.py`, which reuses `normalise`,
`LinkageResult` and `pairwise_scores` from here); this pandas + rapidfuzz implementation is the
baseline `benchmarks/bench_retail_dedup.py` compares it against on the same records. Vectorised
string comparisons run in rapidfuzz's C++ over all pairs at once, and blocking keeps the number of
pairs (and so the cost) close to linear in the number of records. Oversized blocks are skipped and
counted, never silently expanded into quadratic work.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz import distance, fuzz, process
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

FIELDS = ("first_name", "last_name", "company", "address", "city", "state", "zip", "phone", "email")
STREET_ABBREVIATIONS = {
    "street": "st",
    "avenue": "ave",
    "road": "rd",
    "drive": "dr",
    "lane": "ln",
    "court": "ct",
    "boulevard": "blvd",
    "place": "pl",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
}

# Blocking rules: records sharing all key parts become candidate pairs (union over rules).
BLOCKING_RULES: dict[str, tuple[str, ...]] = {
    "email": ("email",),
    "phone": ("phone",),
    "zip_last3": ("zip", "last3"),
    "zip_first3": ("zip", "first3"),
    "zip_house_number": ("zip", "house_number"),
    "names_sorted": ("names_sorted", "zip"),  # first and last name swapped
}

# Number of comparison levels per compared field (level -1 = a value is missing).
LEVELS = {"name": 4, "address": 4, "zip": 3, "city": 2, "phone": 3, "email": 3, "company": 2}


@dataclass
class LinkageResult:
    """Entity id per record and what the linkage did."""

    entities: pd.DataFrame  # record_key, entity_id, match_score, cluster_size
    pairs: pd.DataFrame  # left, right (row positions), match_probability, for scored candidate pairs
    stats: dict[str, Any] = field(default_factory=dict)


# -- normalisation ------------------------------------------------------------------------------------


def _clean(series: pd.Series) -> pd.Series:
    return series.fillna("").astype(str).str.lower().str.replace(r"[^a-z0-9@. ]", "", regex=True).str.strip()


def normalise(records: pd.DataFrame) -> pd.DataFrame:
    """Comparable forms of the identity fields; empty strings mean missing."""
    out = pd.DataFrame(index=records.index)
    out["first_name"] = _clean(records["first_name"]).str.replace(r"[^a-z]", "", regex=True)
    out["last_name"] = _clean(records["last_name"]).str.replace(r"[^a-z]", "", regex=True)
    out["company"] = _clean(records["company"])
    address = _clean(records["address"]).str.replace(".", "", regex=False)
    street_words = r"\b(" + "|".join(STREET_ABBREVIATIONS) + r")\b"
    address = address.str.replace(street_words, lambda m: STREET_ABBREVIATIONS[m.group(1)], regex=True)
    out["address"] = address.str.replace(r"\s+", " ", regex=True)
    out["city"] = _clean(records["city"])
    out["state"] = _clean(records["state"])
    out["zip"] = records["zip"].fillna("").astype(str).str.extract(r"^\s*(\d{5})", expand=False).fillna("")
    phone = records["phone"].fillna("").astype(str).str.replace(r"\D", "", regex=True).str[-10:]
    out["phone"] = phone.where(phone.str.len() >= 7, "")
    email = records["email"].fillna("").astype(str).str.strip().str.lower()
    out["email"] = email.where(email.str.contains("@", regex=False), "")
    out["first3"] = out["first_name"].str[:3]
    out["last3"] = out["last_name"].str[:3]
    out["house_number"] = out["address"].str.extract(r"^(\d+)", expand=False).fillna("")
    first_last = np.where(
        out["first_name"] < out["last_name"],
        out["first_name"] + "|" + out["last_name"],
        out["last_name"] + "|" + out["first_name"],
    )
    out["names_sorted"] = pd.Series(first_last, index=out.index).where(
        (out["first_name"] != "") & (out["last_name"] != ""), ""
    )
    return out.reset_index(drop=True)


# -- blocking -------------------------------------------------------------------------------------------


def candidate_pairs(norm: pd.DataFrame, max_block_size: int = 100) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Unique (left < right) row pairs sharing a blocking key; blocks above `max_block_size` are skipped."""
    frames, per_rule, skipped = [], {}, {}
    positions = np.arange(len(norm))
    for rule, parts in BLOCKING_RULES.items():
        mask = np.logical_and.reduce([norm[p].to_numpy() != "" for p in parts])
        key = norm.loc[mask, parts[0]].astype(str)
        for part in parts[1:]:
            key = key + "\x1f" + norm.loc[mask, part].astype(str)
        block = pd.DataFrame({"key": pd.factorize(key)[0], "row": positions[mask]})  # int keys merge faster
        sizes = block.groupby("key")["row"].transform("size")
        skipped[rule] = int(block.loc[sizes > max_block_size, "key"].nunique())
        block = block[(sizes >= 2) & (sizes <= max_block_size)]
        joined = block.merge(block, on="key", suffixes=("_l", "_r"))
        joined = joined[joined["row_l"] < joined["row_r"]]
        per_rule[rule] = len(joined)
        frames.append(joined[["row_l", "row_r"]])
    pairs = pd.concat(frames, ignore_index=True).drop_duplicates().rename(columns={"row_l": "left", "row_r": "right"})
    stats = {"pairs_per_rule": per_rule, "oversized_blocks_skipped": skipped, "candidate_pairs": len(pairs)}
    return pairs.reset_index(drop=True), stats


# -- comparison levels ------------------------------------------------------------------------------------


def _similarity(a: np.ndarray, b: np.ndarray, scorer: Any) -> np.ndarray:
    if len(a) == 0:
        return np.zeros(0, dtype=np.float32)
    return process.cpdist(list(a), list(b), scorer=scorer, workers=-1).astype(np.float32)


def _levels(score: np.ndarray, missing: np.ndarray, cuts: Sequence[float]) -> np.ndarray:
    """Map a similarity in [0, 1] to levels: highest cut -> len(cuts), ..., below all -> 0; missing -> -1."""
    level = np.zeros(len(score), dtype=np.int8)
    for i, cut in enumerate(sorted(cuts), start=1):
        level[score >= cut] = i
    level[missing] = -1
    return level


def comparison_levels(norm: pd.DataFrame, left: np.ndarray, right: np.ndarray) -> dict[str, np.ndarray]:
    """Comparison level of every field for pairs (left[i], right[i])."""
    col = {name: norm[name].to_numpy(dtype=object) for name in FIELDS}

    def pick(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a, b = col[name][left], col[name][right]
        return a, b, (a == "") | (b == "")

    jw = distance.JaroWinkler.normalized_similarity
    fa, fb, f_missing = pick("first_name")
    la, lb, l_missing = pick("last_name")
    direct_f, direct_l = _similarity(fa, fb, jw), _similarity(la, lb, jw)
    cross_f, cross_l = _similarity(fa, lb, jw), _similarity(la, fb, jw)
    swapped = (cross_f + cross_l) > (direct_f + direct_l) + 0.2  # first and last name entered the other way round
    first = np.where(swapped, cross_f, direct_f)
    last = np.where(swapped, cross_l, direct_l)
    out = {
        "first_name": _levels(first, f_missing, (0.80, 0.92, 0.9999)),
        "last_name": _levels(last, l_missing, (0.80, 0.92, 0.9999)),
    }
    aa, ab, a_missing = pick("address")
    out["address"] = _levels(_similarity(aa, ab, fuzz.token_set_ratio) / 100.0, a_missing, (0.7, 0.9, 0.9999))
    za, zb, z_missing = pick("zip")
    zip_score = np.where(
        za == zb, 1.0, np.where(np.array([x[:3] for x in za]) == np.array([x[:3] for x in zb]), 0.5, 0)
    )
    out["zip"] = _levels(zip_score, z_missing, (0.5, 1.0))
    ca, cb, c_missing = pick("city")
    out["city"] = _levels((ca == cb).astype(float), c_missing, (1.0,))
    pa_, pb, p_missing = pick("phone")
    out["phone"] = _levels(_similarity(pa_, pb, distance.Levenshtein.normalized_similarity), p_missing, (0.85, 0.9999))
    ea, eb, e_missing = pick("email")
    out["email"] = _levels(_similarity(ea, eb, jw), e_missing, (0.9, 0.9999))
    ka, kb, k_missing = pick("company")
    out["company"] = _levels((ka == kb).astype(float), k_missing, (1.0,))
    return out


def _field_levels(name: str) -> int:
    return LEVELS["name"] if name in ("first_name", "last_name") else LEVELS[name]


# -- Fellegi-Sunter with EM ----------------------------------------------------------------------------------


def estimate_u(norm: pd.DataFrame, n_pairs: int, seed: int) -> dict[str, np.ndarray]:
    """u-probabilities from random record pairs (almost all of which are non-matches)."""
    rng = np.random.default_rng(seed)
    left = rng.integers(0, len(norm), n_pairs)
    right = rng.integers(0, len(norm), n_pairs)
    keep = left != right
    levels = comparison_levels(norm, left[keep], right[keep])
    u = {}
    for name, lv in levels.items():
        counts = np.bincount(lv[lv >= 0], minlength=_field_levels(name)).astype(float) + 1.0
        u[name] = counts / counts.sum()
    return u


def expectation_maximisation(
    levels: dict[str, np.ndarray], u: dict[str, np.ndarray], iterations: int = 30, prior: float = 0.3
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], float, np.ndarray]:
    """Fit m, u and the match prior over candidate pairs; returns (m, u, prior, log2 Bayes factor)."""
    u = {k: v.copy() for k, v in u.items()}
    m = {}
    for name in levels:
        k = _field_levels(name)
        init = np.full(k, 0.1 / max(k - 1, 1))
        init[-1] = 0.9
        m[name] = init
    n = len(next(iter(levels.values())))
    log_bf = np.zeros(n)
    for _ in range(iterations if n else 0):  # no candidate pairs: nothing to fit
        log_bf = np.zeros(n)
        for name, lv in levels.items():
            present = lv >= 0
            log_bf[present] += np.log2(m[name][lv[present]]) - np.log2(u[name][lv[present]])
        logit = np.log2(prior / (1 - prior)) + log_bf
        posterior = 1.0 / (1.0 + np.exp2(-np.clip(logit, -60, 60)))
        prior = float(np.clip(posterior.mean(), 1e-6, 1 - 1e-6))
        for name, lv in levels.items():
            present = lv >= 0
            k = _field_levels(name)
            counts = np.bincount(lv[present], weights=posterior[present], minlength=k) + 1e-3
            m[name] = counts / counts.sum()
            # Blocked non-matches agree far more than random pairs (they share a blocking key), so
            # u is re-estimated on the candidate pairs too, starting from the random-pair estimate.
            counts = np.bincount(lv[present], weights=1 - posterior[present], minlength=k) + 1e-3
            u[name] = counts / counts.sum()
    return m, u, prior, log_bf


def link_records(
    records: pd.DataFrame,
    threshold: float = 0.97,
    max_block_size: int = 100,
    u_pairs: int = 200_000,
    seed: int = 0,
) -> LinkageResult:
    """Deduplicate `records` (columns `record_key` + FIELDS); entity id = smallest record key in the cluster."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    norm = normalise(records)
    timings["normalise"] = time.perf_counter() - started
    t = time.perf_counter()
    pairs, stats = candidate_pairs(norm, max_block_size)
    timings["blocking"] = time.perf_counter() - t
    t = time.perf_counter()
    left, right = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    levels = comparison_levels(norm, left, right)
    timings["compare"] = time.perf_counter() - t
    t = time.perf_counter()
    u = estimate_u(norm, min(u_pairs, max(1000, len(norm) * 5)), seed)
    m, u, prior, log_bf = expectation_maximisation(levels, u)
    logit = np.log2(prior / (1 - prior)) + log_bf
    probability = 1.0 / (1.0 + np.exp2(-np.clip(logit, -60, 60)))
    timings["train_em"] = time.perf_counter() - t
    t = time.perf_counter()
    keys = records["record_key"].astype(str).to_numpy()
    linked = probability >= threshold
    n = len(records)
    graph = coo_matrix((np.ones(int(linked.sum())), (left[linked], right[linked])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    # entity id = the smallest record key of the component (ranks via a sorted factorisation: fast)
    rank, sorted_keys = pd.factorize(keys, sort=True)
    smallest = np.full(component.max() + 1 if n else 0, np.iinfo(np.int64).max)
    np.minimum.at(smallest, component, rank)
    frame = pd.DataFrame({"record_key": keys, "entity_id": np.asarray(sorted_keys)[smallest[component]]})
    frame["cluster_size"] = np.bincount(component)[component].astype(np.int32)
    best = np.full(n, np.nan)
    np.fmax.at(best, left[linked], probability[linked])
    np.fmax.at(best, right[linked], probability[linked])
    frame["match_score"] = best
    timings["cluster"] = time.perf_counter() - t
    stats |= {
        "records": n,
        "linked_pairs": int(linked.sum()),
        "entities": int(frame["entity_id"].nunique()),
        "match_prior": prior,
        "threshold": threshold,
        "m_probabilities": {k: [round(float(x), 4) for x in v] for k, v in m.items()},
        "u_probabilities": {k: [round(float(x), 4) for x in v] for k, v in u.items()},
        "seconds": {k: round(v, 3) for k, v in timings.items()},
    }
    scored = pd.DataFrame({"left": left, "right": right, "match_probability": probability})
    return LinkageResult(frame, scored, stats)


# -- evaluation against planted truth --------------------------------------------------------------------------


def pairwise_scores(predicted: Sequence[Any], truth: Sequence[Any]) -> dict[str, float | int]:
    """Pairwise precision/recall/F1 of predicted clusters against true clusters (exact pair counts)."""
    frame = pd.DataFrame({"p": np.asarray(predicted), "t": np.asarray(truth)})

    def pairs(sizes: pd.Series) -> int:
        s = sizes.to_numpy(dtype=np.int64)
        return int((s * (s - 1) // 2).sum())

    true_positive = pairs(frame.groupby(["p", "t"]).size())
    predicted_pairs = pairs(frame.groupby("p").size())
    true_pairs = pairs(frame.groupby("t").size())
    precision = true_positive / predicted_pairs if predicted_pairs else 1.0
    recall = true_positive / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "true_positive_pairs": true_positive,
        "false_positive_pairs": predicted_pairs - true_positive,
        "false_negative_pairs": true_pairs - true_positive,
        "predicted_pairs": predicted_pairs,
        "true_pairs": true_pairs,
        "precision": round(precision, 5),
        "recall": round(recall, 5),
        "f1": round(f1, 5),
    }


def customer_records(customers: pd.DataFrame) -> pd.DataFrame:
    """The linkage input from `Customer`-layout columns (as stored in `store_customers`)."""
    return pd.DataFrame(
        {
            "record_key": customers["record_key"],
            "first_name": customers["first_name"],
            "last_name": customers["last_name"],
            "company": customers["company"],
            "address": customers["address"],
            "city": customers["city"],
            "state": customers["state"],
            "zip": customers["zip"],
            "phone": customers["phone_number"],
            "email": customers["email_address"],
        }
    )
